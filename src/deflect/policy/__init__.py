"""The escalation policy: a pure function of the question, the evidence and the rules."""

from deflect.policy.decide import Evidence, PolicyDecision, PolicyRules, decide
from deflect.policy.loader import load_policy
from deflect.policy.rules import PolicyConfig, TriggerRules
from deflect.policy.semantic import PrototypeScorer

__all__ = [
    "Evidence",
    "PolicyConfig",
    "PolicyDecision",
    "PolicyRules",
    "PrototypeScorer",
    "TriggerRules",
    "decide",
    "load_policy",
]
