"""One owner of the index while serving: `deflect serve` leaves a marker (pid and URL) in the data folder, and
`deflect ingest` hands its work to that server (POST /v1/admin/ingest, then polls GET /v1/jobs) instead of
writing the index from a second process, which broke every ask on embedded Chroma until a restart; `deflect ask`
asks it (POST /v1/ask), `deflect escalations resolve` resolves there (the resolution's knowledge goes into its
index) and `deflect gaps` asks it for the report (which reads the index). The embedded index refuses a second
process anyway (deflect.index.owner)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from deflect.config import Settings
from deflect.errors import ConfigError, DeflectError

MARKER = "serve.json"


def marker_path(settings: Settings) -> Path:
    return settings.data_dir / MARKER


def write_marker(settings: Settings, host: str, port: int) -> Path:
    """Say where this server listens; removed again when it stops (a stale one is detected by pid and /healthz)."""
    path = marker_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    connect = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    path.write_text(json.dumps({"pid": os.getpid(), "url": f"http://{connect}:{port}"}), encoding="utf-8")
    return path


def remove_marker(path: Path) -> None:
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def running_server(settings: Settings) -> str | None:
    """The URL of a live `deflect serve` on this data folder, or None (no marker, dead pid, no answer)."""
    try:
        marker = json.loads(marker_path(settings).read_text(encoding="utf-8"))
        pid, url = int(marker["pid"]), str(marker["url"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        return url if httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200 else None
    except httpx.HTTPError:
        return None


def ingest_via_server(
    url: str,
    settings: Settings,
    paths: list[Path],
    progress: Callable[[int, int], None] | None = None,
    poll_s: float = 0.5,
) -> dict[str, Any]:
    """Have the server ingest `paths` and wait for its report."""
    headers = _bearer(settings.admin_api_keys, "DEFLECT_ADMIN_API_KEYS", "handing it the ingest")
    with httpx.Client(base_url=url, headers=headers, timeout=30.0) as client:
        started = client.post("/v1/admin/ingest", json={"paths": [str(p.resolve()) for p in paths]})
        if started.status_code != 202:
            error = _error(started)
            raise DeflectError(f"the server refused the ingest ({started.status_code}): {error}")
        runs = started.json()["runs_before"]
        while True:
            time.sleep(poll_s)
            job = next(j for j in client.get("/v1/jobs").json() if j["name"] == "ingest")
            done, total = job["progress"].get("embedded"), job["progress"].get("total")
            if progress is not None and total:
                progress(done, total)
            if job["runs"] > runs and not job["busy"]:
                if job["last_error"]:
                    raise DeflectError(f"the server's ingest failed: {job['last_error']}")
                result: dict[str, Any] = job["last_result"]
                return result


def ask_via_server(url: str, settings: Settings, question: str, agent: bool) -> dict[str, Any]:
    """Ask the running server, as a customer or an agent (the key's role says which), and return its reply."""
    keys, name = (
        (settings.agent_api_keys, "DEFLECT_AGENT_API_KEYS")
        if agent
        else (settings.customer_api_keys, "DEFLECT_CUSTOMER_API_KEYS")
    )
    headers = _bearer(keys, name, "asking it")
    try:
        reply = httpx.post(f"{url}/v1/ask", json={"question": question}, headers=headers, timeout=60.0)
    except httpx.HTTPError as exc:
        raise DeflectError(f"the server at {url} did not answer: {exc}") from exc
    if reply.status_code != 200:
        raise DeflectError(f"the server refused the question ({reply.status_code}): {_error(reply)}")
    result: dict[str, Any] = reply.json()
    return result


def resolve_via_server(
    url: str,
    settings: Settings,
    escalation_id: str,
    actor: str,
    resolution: str,
    publish: bool,
    public_resolution: str | None,
) -> dict[str, Any]:
    """Have the running server resolve, as `actor` (an agent key, X-Actor), and return its reply (ResolveResponse).
    Its refusals come back as the same error (a claim held by someone else: invalid_transition, naming them)."""
    body = {"resolution": resolution, "publish": publish, "public_resolution": public_resolution}
    headers = {**_bearer(settings.agent_api_keys, "DEFLECT_AGENT_API_KEYS", "resolving there"), "X-Actor": actor}
    path = f"/v1/escalations/{quote(escalation_id, safe='')}/resolve"
    return _call(url, "POST", path, headers, timeout=60.0, json=body)


def gaps_via_server(url: str, settings: Settings, days: float, min_size: int) -> dict[str, Any]:
    """The running server's content-gaps report (GET /v1/gaps)."""
    headers = _bearer(settings.agent_api_keys, "DEFLECT_AGENT_API_KEYS", "asking it for the gaps")
    return _call(url, "GET", "/v1/gaps", headers, timeout=300.0, params={"days": days, "min_size": min_size})


def _call(url: str, method: str, path: str, headers: dict[str, str], timeout: float, **request: Any) -> dict[str, Any]:
    """One request to the running server: its JSON reply, or its error raised again as the DeflectError it was."""
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=timeout) as client:
            reply = client.request(method, path, **request)
    except httpx.HTTPError as exc:
        raise DeflectError(f"the server at {url} did not answer: {exc}") from exc
    if reply.status_code != 200:
        raise _raised(reply)
    result: dict[str, Any] = reply.json()
    return result


def _raised(response: httpx.Response) -> DeflectError:
    """The server's error body as the DeflectError subclass with its code (the message and details as sent)."""
    try:
        error = response.json()["error"]
        code, message, details = str(error["code"]), str(error["message"]), list(error.get("details") or [])
    except (ValueError, KeyError, TypeError):
        return DeflectError(f"the server answered {response.status_code}: {response.text[:200]}")
    known = [DeflectError]
    for cls in known:  # every subclass, at any depth (IndexInUse is IndexUnavailable's)
        known.extend(cls.__subclasses__())
    cls = next((c for c in known if c.code == code), DeflectError)
    return cls(message, details)


def _bearer(keys: list[str], setting: str, doing: str) -> dict[str, str]:
    """The headers that call the running server with the first of `keys`, or a clear error naming `setting`."""
    if not keys:
        raise ConfigError(f"a server is running: {doing} needs {setting}")
    return {"Authorization": f"Bearer {keys[0]}"}


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
