"""Calibration of confidence on the user's own knowledge base (probes, self-calibration, fitting)."""
