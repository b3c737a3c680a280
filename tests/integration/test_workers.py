"""Several deflect processes on one `chroma run` server and one PostgreSQL: a resolution made through one process
is answered through another at once, and both answer alike; a key made with `deflect keys` works in both and, once
revoked through one, is refused by the other at once. Then `deflect serve --workers 2` itself.

Two `deflect serve` processes on their own ports stand for two workers: behind one shared socket a test cannot
choose which worker takes a request."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from deflect.config import DEV_WIDGET_ID

from .servers import ADMIN, AGENT, CUSTOMER, Deployment, free_port, start_chroma

pytestmark = pytest.mark.integration
QUESTION = "Our zorbly widget export stalls at ninety percent every night, what now?"
RESOLUTION = "Clear the stuck zorbly widget export job, then re-run the nightly zorbly export."


@pytest.fixture
def shared_env(tmp_path: Path, postgres_url: str) -> Iterator[dict[str, str]]:
    """A Chroma server and a fresh PostgreSQL schema: everything the processes share."""
    port = free_port()
    chroma = start_chroma(tmp_path, port)
    admin = create_engine(postgres_url)
    schema = f"deflect_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    yield {
        "DEFLECT_CHROMA_MODE": "http",
        "DEFLECT_CHROMA_HOST": "127.0.0.1",
        "DEFLECT_CHROMA_PORT": str(port),
        "DEFLECT_DATABASE_URL": url.render_as_string(hide_password=False),
        # Workers on one machine share its data folder, where the KB's fitted calibration lives. (Across machines
        # that file would differ: each machine fits its own, and confidences differ in the last digits.)
        "DEFLECT_DATA_DIR": str(tmp_path / "shared-data"),
    }
    chroma.terminate()
    chroma.wait(15)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def post(dep: Deployment, path: str, body: dict[str, object], headers: dict[str, str] = AGENT) -> httpx.Response:
    return httpx.post(f"{dep.url}{path}", json=body, headers={**headers, "X-Actor": "agent-1"}, timeout=60)


def test_a_resolution_through_one_process_is_answered_through_another(
    tmp_path: Path, shared_env: dict[str, str]
) -> None:
    # Two processes as two workers would be: own kb checkout each, sharing the servers and the data folder.
    one = Deployment(tmp_path / "one", extra_env=shared_env)
    two = Deployment(tmp_path / "two", extra_env=shared_env)
    try:
        ingested = one.cli("ingest", "--json")
        assert ingested.returncode == 0, ingested.stderr
        one.serve()
        two.serve()

        asked = post(one, "/v1/ask", {"question": QUESTION}).json()
        assert asked["decision"] == "escalate"
        esc_id = asked["escalation_id"]
        for action in ("claim", "start"):
            assert post(one, f"/v1/escalations/{esc_id}/{action}", {}).status_code == 200
        assert post(one, f"/v1/escalations/{esc_id}/resolve", {"resolution": RESOLUTION}).status_code == 200

        seen = httpx.get(f"{two.url}/v1/escalations/{esc_id}", headers=AGENT, timeout=30).json()
        again = post(two, "/v1/ask", {"question": "zorbly widget export stalls"}).json()
        assert seen["escalation"]["state"] == "resolved"
        assert again["retrieved"][0] == f"esc:{esc_id}"
        assert again["decision"] == "answer"

        for question in ("How do I reset my password?", "zorbly widget export stalls", "pizza in Naples?"):
            a, b = (post(d, "/v1/ask", {"question": question}, CUSTOMER).json() for d in (one, two))
            assert (a["decision"], a["retrieved"], a["citations"], a["confidence"]) == (
                b["decision"],
                b["retrieved"],
                b["citations"],
                b["confidence"],
            )

        made = one.cli("keys", "create", "--role", "agent", "--label", "workers", "--json")
        assert made.returncode == 0, made.stderr
        key = json.loads(made.stdout)
        headers = {"Authorization": f"Bearer {key['secret']}"}
        for dep in (one, two):
            assert httpx.get(f"{dep.url}/v1/escalations", headers=headers, timeout=30).status_code == 200
        revoked = httpx.post(f"{one.url}/v1/admin/keys/{key['id']}/revoke", headers=ADMIN, timeout=30)
        assert revoked.status_code == 200
        refused = httpx.get(f"{two.url}/v1/escalations", headers=headers, timeout=30)
        assert refused.status_code == 401 and refused.json()["error"]["message"] == "this API key was revoked"
    finally:
        one.stop()
        two.stop()


def test_serve_with_two_workers_logging_json(tmp_path: Path, shared_env: dict[str, str]) -> None:
    dep = Deployment(tmp_path, extra_env={**shared_env, "DEFLECT_LOG_FORMAT": "json"})
    try:
        assert dep.cli("ingest").returncode == 0
        proc = dep.serve("--workers", "2")
        answers = {
            post(dep, "/v1/ask", {"question": "How do I reset my password?"}).json()["decision"] for _ in range(6)
        }
        assert answers == {"answer"}
        assert proc.poll() is None
        text = sorted(tmp_path.glob("serve-*.log"))[-1].read_text(encoding="utf-8")
        logged = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert any(e["logger"] == "uvicorn.access" and "/v1/ask" in e["message"] for e in logged)
    finally:
        dep.stop()


def test_several_workers_refuse_embedded_chroma(tmp_path: Path) -> None:
    result = Deployment(tmp_path).cli("serve", "--workers", "2", timeout=60)

    assert result.returncode == 2
    assert "DEFLECT_CHROMA_MODE=http" in result.stdout + result.stderr


def test_rate_limits_and_feedback_votes_are_counted_once_across_processes(
    tmp_path: Path, shared_env: dict[str, str]
) -> None:
    # The widget's per-IP limit is counted in the shared data folder: a counter per process would let each of the
    # two processes allow the whole limit (2 x LIMIT requests). Votes go to the shared database, each once.
    limit = 4
    env = {**shared_env, "DEFLECT_WIDGET_RATE_PER_IP": str(limit)}
    one = Deployment(tmp_path / "one", extra_env=env)
    two = Deployment(tmp_path / "two", extra_env=env)
    try:
        assert one.cli("ingest").returncode == 0
        one.serve()
        two.serve()

        while time.time() % 60 > 50:  # the limit's window is the clock minute: do not straddle two of them
            time.sleep(1)
        statuses = []
        for i in range(3 * limit):
            dep = (one, two)[i % 2]
            # Feedback on an unknown answer: counted by the limiter first, then 404 (no model run, so it is quick).
            # A new visitor session each time: only the per-IP limit, shared by the processes, can refuse.
            resp = httpx.post(
                f"{dep.url}/widget/v1/{DEV_WIDGET_ID}/answers/ans_none/feedback",
                json={"helpful": True},
                headers={"Origin": dep.url, "X-Deflect-Session": f"sess_workers_{i:04d}"},
                timeout=30,
            )
            statuses.append(resp.status_code)
        assert statuses.count(404) == limit, statuses
        assert statuses.count(429) == 2 * limit, statuses
        assert statuses[:limit] == [404] * limit  # allowed first, then refused by both processes alike

        answer_id = post(one, "/v1/ask", {"question": "How do I reset my password?"}, CUSTOMER).json()["id"]
        votes = []
        for i in range(6):
            dep = (one, two)[i % 2]
            resp = httpx.post(
                f"{dep.url}/v1/answers/{answer_id}/feedback",
                json={"helpful": i % 3 != 0},
                headers={**AGENT, "X-Actor": f"agent-{i}"},
                timeout=30,
            )
            assert resp.status_code == 201, resp.text
            votes.append(resp.json()["id"])
        listed = json.loads(two.cli("feedback", "list", "--answer", answer_id, "--json").stdout)
        assert sorted(v["id"] for v in listed) == sorted(votes)  # every vote once, whichever process took it
        assert sorted(v["actor"] for v in listed) == [f"agent-{i}" for i in range(6)]
        assert sum(not v["helpful"] for v in listed) == 2
    finally:
        one.stop()
        two.stop()
