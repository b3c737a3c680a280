"""Feedback on answers: stored votes tied to the audit log, and the bounded ranking adjustment they produce."""

from deflect.feedback.adjust import AdjustConfig, SourceAdjustments, Vote, votes_of
from deflect.feedback.desk import FeedbackDesk, FeedbackResult

__all__ = ["AdjustConfig", "FeedbackDesk", "FeedbackResult", "SourceAdjustments", "Vote", "votes_of"]
