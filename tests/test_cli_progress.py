"""`ask` and `ingest` say what they are doing while the model loads: a status on stderr, on a terminal only."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

import deflect.cli as cli
import deflect.wiring as wiring
from deflect.config import Settings


@pytest.mark.parametrize("terminal", [True, False])
def test_building_the_service_shows_a_status_on_a_terminal_only(
    terminal: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=screen, force_terminal=terminal, width=100))

    def slow_build(settings: Settings) -> str:
        time.sleep(0.3)  # long enough for the spinner to draw at least once
        return "service"

    monkeypatch.setattr(wiring, "build_service", slow_build)

    assert cli._service(Settings(_env_file=None)) == "service"  # type: ignore[call-arg]
    assert ("loading the embedding model" in screen.getvalue()) is terminal
