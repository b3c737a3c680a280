"""POST /v1/admin/ingest: the serving process ingests its own kb in the background (admin key, kb paths only)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deflect.api import create_app
from deflect.config import DEV_ADMIN_KEY, DEV_AGENT_KEY, Settings
from deflect.service import DeflectService

ADMIN = {"Authorization": f"Bearer {DEV_ADMIN_KEY}"}
AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}"}


@pytest.fixture
def client(settings: Settings, service: DeflectService) -> TestClient:
    return TestClient(create_app(settings, service))


def wait_for_ingest(client: TestClient, runs_before: int) -> dict[str, object]:
    for _ in range(200):
        job = next(j for j in client.get("/v1/jobs", headers=ADMIN).json() if j["name"] == "ingest")
        if job["runs"] > runs_before and not job["busy"]:
            return job  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError("the ingest job did not finish")


def test_an_admin_ingest_runs_in_the_server_and_reports(client: TestClient, settings: Settings) -> None:
    (settings.kb_dir / "articles" / "parquet.md").write_text(
        "---\ntitle: Parquet export\naudience: public\n---\n# Parquet export\n\nChoose Export, then Parquet.\n",
        encoding="utf-8",
    )

    started = client.post("/v1/admin/ingest", json={}, headers=ADMIN)

    assert started.status_code == 202
    job = wait_for_ingest(client, started.json()["runs_before"])
    assert job["last_error"] is None
    assert job["last_result"]["added"] == 1  # type: ignore[index]


@pytest.mark.parametrize("path", ["/etc", "../"], ids=["absolute", "relative-escape"])
def test_only_paths_inside_the_kb_can_be_ingested(client: TestClient, settings: Settings, path: str) -> None:
    target = path if path.startswith("/") else str(settings.kb_dir / path)

    response = client.post("/v1/admin/ingest", json={"paths": [target]}, headers=ADMIN)

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["problem"] == "outside_kb"


def test_ingest_needs_an_admin_key(client: TestClient) -> None:
    assert client.post("/v1/admin/ingest", json={}, headers=AGENT).status_code == 403


@pytest.mark.parametrize("name", ["nope.md", "bad\u0000byte.md"], ids=["missing", "nul-byte"])
def test_a_missing_or_unusable_path_is_a_422(client: TestClient, settings: Settings, name: str) -> None:
    response = client.post("/v1/admin/ingest", json={"paths": [str(settings.kb_dir / name)]}, headers=ADMIN)
    assert response.status_code == 422


def test_the_marker_names_a_live_server_only(settings: Settings, tmp_path: Path) -> None:
    from deflect.handoff import marker_path, remove_marker, running_server, write_marker

    assert running_server(settings) is None  # no marker
    marker = write_marker(settings, "0.0.0.0", 1)  # this pid is alive, but nothing answers on port 1
    assert running_server(settings) is None
    remove_marker(marker)
    assert not marker_path(settings).exists()


def test_an_admin_reads_the_calibration_in_force_and_others_may_not(
    client: TestClient, service: DeflectService
) -> None:
    got = client.get("/v1/admin/calibration", headers=ADMIN)

    assert got.status_code == 200, got.text
    body = got.json()
    cal = service.calibration
    assert body["fitted_threshold"] == cal.threshold and body["threshold"] == service.rules.answer_threshold
    assert body["fitted_on"] == cal.fitted_on and body["features"] == cal.features
    assert body["job"]["name"] == "calibration"
    assert client.get("/v1/admin/calibration", headers=AGENT).status_code == 403
    assert client.get("/v1/admin/calibration").status_code == 401


def test_votes_over_http_reach_the_calibration_the_server_serves(settings: Settings) -> None:
    """Ask and vote over HTTP as agents do, let the server's calibration job run, read what it fitted on."""
    from deflect.store.sql import SqlStore
    from deflect.testing import HashEmbedder, InMemoryIndex
    from deflect.wiring import assemble

    settings = settings.model_copy(update={"traffic_min_cases": 3})
    svc = assemble(settings, InMemoryIndex(), HashEmbedder(), store=SqlStore(settings.database_url))
    svc.ingest([settings.kb_dir], settings.kb_dir)
    client = TestClient(create_app(settings, svc))
    agent = AGENT | {"X-Actor": "agent-7"}
    for question in ("How do I export my data?", "Where are my invoices?", "Can I change my plan?"):
        asked = client.post("/v1/ask", json={"question": question}, headers=agent)
        assert asked.status_code == 200, asked.text
        voted = client.post(f"/v1/answers/{asked.json()['id']}/feedback", json={"helpful": False}, headers=agent)
        assert voted.status_code in (200, 201), voted.text
    before = client.get("/v1/admin/calibration", headers=ADMIN).json()
    assert before["notes"]["traffic_cases"] == 0

    svc.jobs["calibration"].run_once()  # the first run is the start-up one, which does not check
    svc.jobs["calibration"].run_once()

    after = client.get("/v1/admin/calibration", headers=ADMIN).json()
    assert after["notes"]["traffic_cases"] == 3
    assert any(line.startswith("traffic: 3 questions asked at the desk") for line in after["fitted_on"])
    assert after["job"]["last_result"]["calibration"].startswith("refitted (3 more questions labelled")
