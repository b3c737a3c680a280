"""Escalations: priority and tier, SLA clocks, the packet, its lifecycle and hand-off messages. Pure functions."""

from deflect.escalations.checklist import build_checklist
from deflect.escalations.config import EscalationConfig, load_escalation_config
from deflect.escalations.lifecycle import Action, allowed_actions, apply
from deflect.escalations.matrix import breach_tier, classify
from deflect.escalations.packet import build_escalation, searched_sources
from deflect.escalations.sla import SlaStatus, start_clock, status
from deflect.escalations.suggest import SUGGEST_MAX, page_excerpt, suggested_pages
from deflect.escalations.templates import customer_message, engineering_briefing, human_duration, self_served_message

__all__ = [
    "SUGGEST_MAX",
    "Action",
    "EscalationConfig",
    "SlaStatus",
    "allowed_actions",
    "apply",
    "breach_tier",
    "build_checklist",
    "build_escalation",
    "classify",
    "customer_message",
    "engineering_briefing",
    "human_duration",
    "load_escalation_config",
    "page_excerpt",
    "searched_sources",
    "self_served_message",
    "start_clock",
    "status",
    "suggested_pages",
]
