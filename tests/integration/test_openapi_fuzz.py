"""Schemathesis (property-based, from PyPI) against a real `deflect serve`, once per role key: the OpenAPI
document must describe the API as served, with 0 server errors and 0 schema violations. Bounded: few examples per
operation, a fixed seed, a request timeout. The web pages and assets (/panel, /demo, /widget.js, /static) are not
API operations and are left out."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .servers import BIN, Deployment

pytestmark = pytest.mark.integration

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"
KEYS = {"customer": "dev-customer-key", "agent": "dev-agent-key", "admin": "dev-admin-key"}
NOT_API = r"^/(panel|demo|widget\.js|static/)"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    dep = Deployment(tmp_path_factory.mktemp("fuzz"))
    assert dep.cli("ingest", "--json").returncode == 0
    dep.serve()
    yield dep
    dep.stop()


@pytest.mark.parametrize("role", list(KEYS))
def test_schemathesis_finds_no_server_error_or_schema_violation(served: Deployment, role: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [
            str(BIN / "st"),
            "run",
            f"{served.url}/openapi.json",
            "-H",
            f"Authorization: Bearer {KEYS[role]}",
            "--checks",
            CHECKS,
            "--exclude-path-regex",
            NOT_API,
            "--max-examples",
            "5",
            "--seed",
            "20261130",
            "--request-timeout",
            "30",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    summary = run.stdout[run.stdout.rfind("SUMMARY") :]
    generated = re.search(r"(\d+) generated", summary)
    print(f"schemathesis {role}: {' '.join(summary.split())[:900]}")  # the per-role summary in the CI log
    assert run.returncode == 0, run.stdout[-6000:]
    assert generated and int(generated.group(1)) > 0
