"""Process environment every entry point sets first. Its own module so the CLI can call it without importing
wiring (and with it chromadb and llama-index) on commands that need no model."""

from __future__ import annotations

import os


def offline_environment() -> None:
    """Every entry point calls this first: no hub lookups, no telemetry, ever."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
