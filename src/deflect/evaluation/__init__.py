"""Evaluation built like the product: golden sets, dataset adapters, named metrics, calibration, reports."""
