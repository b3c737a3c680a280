"""The app factory each of several uvicorn worker processes calls (`deflect serve --workers N`).

Workers share nothing in memory, so everything they must agree on lives outside them: a `chroma run` server for
the vector index, and the database (PostgreSQL for several machines) for escalations, audit, feedback and the
keyword index. Embedded Chroma is one process's file, so several workers refuse it.
"""

from __future__ import annotations

from fastapi import FastAPI

from deflect.api.app import create_app
from deflect.config import Settings
from deflect.errors import ConfigError


def check_workers(settings: Settings, workers: int) -> None:
    """ConfigError unless `workers` processes can share this configuration's index."""
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    if workers > 1 and settings.chroma_mode != "http":
        raise ConfigError(
            "several workers need a Chroma server (DEFLECT_CHROMA_MODE=http): embedded Chroma is one process's file"
        )


def worker_app() -> FastAPI:
    """One worker's app, from the environment the parent process was started with."""
    return create_app(Settings.load())  # the parent's project too: `--project` travels as DEFLECT_PROJECT
