"""Real processes for the fault tests: a `chroma run` server, `deflect serve`, `deflect` CLI commands, each on a
free loopback port with its own kb, data folder and database under a temporary folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from conftest import write_kb

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CUSTOMER = {"Authorization": "Bearer dev-customer-key"}
AGENT = {"Authorization": "Bearer dev-agent-key"}
ADMIN = {"Authorization": "Bearer dev-admin-key"}
START_S = 120  # model load and first ingest on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Deployment:
    """A kb, data folder and database under `root`, and the environment every deflect process of it runs with."""

    root: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not (self.root / "kb").exists():
            write_kb(self.root / "kb")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DEFLECT_KB_DIR": str(self.root / "kb"),
            "DEFLECT_DATA_DIR": str(self.root / "data"),
            "DEFLECT_DATABASE_URL": f"sqlite:///{self.root / 'deflect.db'}",
            "DEFLECT_POLICY_FILE": str(ROOT / "config" / "policy.yaml"),
            "DEFLECT_ESCALATION_FILE": str(ROOT / "config" / "escalation.yaml"),
            "DEFLECT_PORT": str(self.port),
            "DEFLECT_HOST": "127.0.0.1",
            "ANONYMIZED_TELEMETRY": "False",
            **self.extra_env,
        }

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "deflect"), *args], env=self.env, cwd=self.root, capture_output=True, text=True, timeout=timeout
        )

    def serve(self, *args: str) -> subprocess.Popen[bytes]:
        with (self.root / f"serve-{len(self.procs)}.log").open("wb") as log:  # the child keeps its own copy
            command = [str(BIN / "deflect"), "serve", *args]
            proc = subprocess.Popen(command, env=self.env, cwd=self.root, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        self.wait_ready(proc)
        return proc

    def wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"deflect serve exited {proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"deflect serve not ready within {START_S}s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        logs = sorted(self.root.glob("serve-*.log"))
        return logs[-1].read_text(errors="replace")[-3000:] if logs else "(no log)"

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)

    def ask(self, question: str, headers: dict[str, str] = CUSTOMER, timeout: float = 30) -> httpx.Response:
        return httpx.post(f"{self.url}/v1/ask", json={"question": question}, headers=headers, timeout=timeout)


def start_chroma(root: Path, port: int) -> subprocess.Popen[bytes]:
    """A `chroma run` server on `port`, storing under root/chroma; waits for its heartbeat."""
    with (root / "chroma.log").open("ab") as log:
        proc = subprocess.Popen(
            [str(BIN / "chroma"), "run", "--path", str(root / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("chroma server did not start")
