"""The Index contract, run against every implementation: in-memory fake, embedded Chroma, Chroma server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from deflect.domain.ports import Index
from deflect.index.chroma import ChromaIndex
from deflect.testing import InMemoryIndex
from deflect.testing.contracts import IndexContract

EF_SEARCH = 64
SERVER_START_SECONDS = 30


def collection_name() -> str:
    """A fresh collection per index, so tests never see each other's chunks."""
    return f"contract-{uuid.uuid4().hex}"


class TestInMemoryIndex(IndexContract):
    @pytest.fixture
    def make_index(self) -> Callable[[], Index]:
        return InMemoryIndex


class TestChromaEmbedded(IndexContract):
    @pytest.fixture
    def make_index(self, tmp_path: Path) -> Callable[[], Index]:
        return lambda: ChromaIndex.embedded(tmp_path / "chroma", collection_name(), EF_SEARCH)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else "(no output)"


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A `chroma run` subprocess on a free port; torn down after the module."""
    chroma = Path(sys.executable).with_name("chroma")
    if not chroma.exists():
        pytest.fail(f"the chroma executable is not next to {sys.executable}")
    root = tmp_path_factory.mktemp("chroma-server")
    host, port = "127.0.0.1", _free_port()
    log = root / "server.log"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(root / "data"), "--host", host, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                if httpx.get(f"http://{host}:{port}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"chroma server did not answer within {SERVER_START_SECONDS}s:\n{_log_tail(log)}")
            try:
                # Waits between probes, and notices at once if the server died.
                code = proc.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"chroma server exited with code {code}:\n{_log_tail(log)}")
        yield host, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.integration
class TestChromaServer(IndexContract):
    @pytest.fixture
    def make_index(self, chroma_server: tuple[str, int]) -> Callable[[], Index]:
        host, port = chroma_server
        return lambda: ChromaIndex.http(host, port, collection_name(), EF_SEARCH)
