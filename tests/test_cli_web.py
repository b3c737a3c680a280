"""`deflect zendesk-app`: writes the zip an admin uploads, or says in one line why the address would not work."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from deflect import cli_web  # noqa: F401  (registers `zendesk-app` on the app)
from deflect.cli import EXIT_INPUT, app

runner = CliRunner()


def test_the_app_zip_is_written_with_the_sidebar_url(tmp_path: Path) -> None:
    out = tmp_path / "app.zip"

    result = runner.invoke(app, ["zendesk-app", "--url", "https://deflect.acme.example", "--out", str(out)])

    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["location"]["support"]["ticket_sidebar"]["url"] == "https://deflect.acme.example/panel?host=zendesk"
    assert "DEFLECT_PANEL_ORIGINS" in result.output


def test_an_http_address_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "app.zip"

    result = runner.invoke(app, ["zendesk-app", "--url", "http://deflect.acme.example", "--out", str(out)])

    assert result.exit_code == EXIT_INPUT
    assert "error (validation_failed)" in result.output and "https" in result.output
    assert "Traceback" not in result.output and not out.exists()
