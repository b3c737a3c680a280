"""The escalation policy: a pure function of the question, the evidence and the rules."""

from deflect.policy.decide import Evidence, PolicyDecision, PolicyRules, decide

__all__ = ["Evidence", "PolicyDecision", "PolicyRules", "decide"]
