"""`deflect keys ...` against a real SQLite database: what it prints works at once in a server over the same
database, and the database file never holds a secret."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import deflect.cli_keys  # noqa: F401  (registers the command)
from deflect.api import create_app
from deflect.cli import app
from deflect.config import Settings
from deflect.service import DeflectService
from deflect.store.sql import SqlStore

runner = CliRunner()


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return {"DEFLECT_DATABASE_URL": settings.database_url, "COLUMNS": "200"}


@pytest.fixture
def server(settings: Settings, make_service: Callable[..., DeflectService]) -> Iterator[TestClient]:
    store = SqlStore(settings.database_url)
    yield TestClient(create_app(settings, make_service(store=store)))
    store.close()


def keys(env: dict[str, str], *args: str) -> str:
    result = runner.invoke(app, ["keys", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def database_bytes(settings: Settings) -> bytes:
    db = Path(settings.database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))  # the file and its WAL


def test_create_prints_a_working_secret_that_the_database_never_holds(
    env: dict[str, str], server: TestClient, settings: Settings
) -> None:
    made = json.loads(keys(env, "create", "--role", "agent", "--label", "Tier 1", "--actor", "ops", "--json"))

    assert server.get("/v1/escalations", headers={"Authorization": f"Bearer {made['secret']}"}).status_code == 200
    assert made["secret"].encode() not in database_bytes(settings)
    listed = keys(env, "list")
    assert made["id"] in listed and "Tier 1" in listed and made["secret"] not in listed


def test_revoke_is_refused_at_once_by_a_running_server(env: dict[str, str], server: TestClient) -> None:
    made = json.loads(keys(env, "create", "--role", "admin", "--label", "ops", "--json"))
    headers = {"Authorization": f"Bearer {made['secret']}"}
    assert server.get("/v1/admin/keys", headers=headers).status_code == 200

    assert "revoked" in keys(env, "revoke", made["id"])

    assert server.get("/v1/admin/keys", headers=headers).status_code == 401
    assert made["id"] not in keys(env, "list") and made["id"] in keys(env, "list", "--all")


def test_rotate_prints_a_new_secret_and_the_old_one_stops(env: dict[str, str], server: TestClient) -> None:
    made = json.loads(keys(env, "create", "--role", "customer", "--label", "site", "--json"))

    printed = keys(env, "rotate", made["id"]).splitlines()

    new = next(line for line in printed if line.startswith("dfk_"))
    question = {"question": "How do I reset my password?"}
    assert server.post("/v1/ask", json=question, headers={"X-API-Key": new}).status_code == 200
    assert server.post("/v1/ask", json=question, headers={"X-API-Key": made["secret"]}).status_code == 401


def test_widget_ids_and_their_origins(env: dict[str, str], server: TestClient) -> None:
    made = json.loads(keys(env, "create-widget", "--label", "docs", "--origin", "https://docs.example", "--json"))
    assert made["origins"] == ["https://docs.example"] and made["secret"].startswith("wid_")

    def status(origin: str) -> int:
        headers = {"Origin": origin, "X-Deflect-Session": "sess_cli_00001"}
        body = {"question": "How do I reset my password?"}
        return server.post(f"/widget/v1/{made['secret']}/ask/stream", json=body, headers=headers).status_code

    assert status("https://docs.example") == 200
    assert "https://new.example" in keys(env, "origins", made["id"], "--origin", "https://new.example")
    assert status("https://docs.example") == 403 and status("https://new.example") == 200
    assert "(nowhere)" in keys(env, "origins", made["id"], "--clear")
    assert status("https://new.example") == 403


@pytest.mark.parametrize(
    "args",
    [
        ["create", "--role", "owner", "--label", "x"],
        ["create", "--role", "agent", "--label", ""],
        ["create-widget", "--label", "docs", "--origin", "docs.example"],
        ["revoke", "key_missing"],
        ["origins", "key_missing"],
    ],
)
def test_mistakes_exit_2_with_one_line(env: dict[str, str], args: list[str]) -> None:
    result = runner.invoke(app, ["keys", *args], env=env)

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
