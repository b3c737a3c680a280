"""docker-compose.yml, checked without a Docker engine (none runs on our machines): every long-running service has a
healthcheck and is waited for by condition, volumes are declared, and the API's environment is a valid production
Settings that refuses the development keys. Each service's command runs for real in tests/integration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from deflect.config import DEV_AGENT_KEY, Settings

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"
# What an operator's .env would hold (never the development keys).
OPERATOR_ENV = {
    "POSTGRES_PASSWORD": "s3cret",
    "DEFLECT_CUSTOMER_API_KEYS": "cust-key-1",
    "DEFLECT_AGENT_API_KEYS": "agent-key-1",
    "DEFLECT_ADMIN_API_KEYS": "admin-key-1",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} (an unset required variable is an error)."""

    def one(match: re.Match[str]) -> str:
        name, kind, arg = match.groups()
        if env.get(name):
            return env[name]
        if kind == "-":
            return arg
        raise KeyError(f"{name}: {arg or 'required'}")

    return _VARIABLE.sub(one, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"api", "chroma", "postgres", "ollama", "ollama-pull"} <= set(services)
    for name, service in services.items():
        if service.get("restart") == "no":  # one-shot jobs finish instead
            continue
        assert service["healthcheck"]["test"], name


def test_dependencies_wait_for_health_or_completion(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully" if services[dependency].get("restart") == "no" else ("service_healthy")
            )
            assert rule == {"condition": expected}, (name, dependency)
    assert set(services["api"]["depends_on"]) == {"postgres", "chroma", "ollama-pull"}


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    used = {
        volume.split(":", 1)[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if not volume.startswith((".", "/"))
    }
    assert used == set(compose["volumes"])


def test_the_api_runs_several_workers_on_the_servers(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    command = interpolate(" ".join(api["command"]), OPERATOR_ENV)
    assert "deflect serve --workers 2" in command  # the command tests/integration/test_workers.py runs
    env = {k: interpolate(str(v), OPERATOR_ENV) for k, v in api["environment"].items()}
    assert env["DEFLECT_CHROMA_MODE"] == "http"
    assert env["DEFLECT_DATABASE_URL"].startswith("postgresql+psycopg://deflect:s3cret@postgres:5432/")


def test_the_api_environment_is_a_valid_production_settings(compose: dict[str, Any]) -> None:
    raw = compose["services"]["api"]["environment"]
    fields = {f"DEFLECT_{name.upper()}" for name in Settings.model_fields}
    assert set(raw) <= fields, set(raw) - fields  # a misspelt variable would be silently ignored
    env = {k: interpolate(str(v), OPERATOR_ENV) for k, v in raw.items()}

    settings = Settings(**{k.removeprefix("DEFLECT_").lower(): v for k, v in env.items()}, _env_file=None)  # type: ignore[arg-type]

    assert settings.env == "production"
    assert settings.generator == "ollama" and settings.ollama_host == "http://ollama:11434"
    with pytest.raises(ValidationError, match="development API keys"):
        Settings(
            **{**{k.removeprefix("DEFLECT_").lower(): v for k, v in env.items()}, "agent_api_keys": DEV_AGENT_KEY},
            _env_file=None,
        )  # type: ignore[arg-type]


def test_keys_and_password_must_be_set(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    for missing in OPERATOR_ENV:
        env = {k: v for k, v in OPERATOR_ENV.items() if k != missing}
        with pytest.raises(KeyError, match=missing):
            for value in api["environment"].values():
                interpolate(str(value), env)
