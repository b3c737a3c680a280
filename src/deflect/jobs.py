"""Named background jobs owned by the service (pending knowledge, ingestion while serving), each with a status.

A job is a function run once at start and then every `interval_s` on one daemon thread, or on demand; runs never
overlap. Its status says when it last ran, what it did and the last error, so an operator can see work that is
stuck instead of guessing (GET /v1/jobs)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)


class Job:
    """`work()` returns a small JSON-able summary of what it did; exceptions are caught, logged and reported."""

    def __init__(self, name: str, work: Callable[[], Any], interval_s: float) -> None:
        self.name = name
        self._work = work
        self.interval_s = interval_s
        self._run_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.last_started: datetime | None = None
        self.last_finished: datetime | None = None
        self.last_result: Any = None
        self.last_error: str | None = None
        self.progress: dict[str, Any] = {}  # what a long run has done so far, set by its work function

    def run_once(self) -> Any:
        """Run now (waiting for a run in progress to finish first); the summary, or None after an error."""
        with self._run_lock:
            self.last_started = datetime.now(UTC)
            started = time.perf_counter()
            try:
                self.last_result = self._work()
                self.last_error = None
            except Exception as exc:  # a background job must outlive one bad run; the status shows it
                log.exception("job %s failed", self.name)
                self.last_result, self.last_error = None, f"{type(exc).__name__}: {exc}"
            self.runs += 1
            self.last_finished = datetime.now(UTC)
            log.info("job %s ran in %.0f ms: %s", self.name, (time.perf_counter() - started) * 1000, self.last_result)
            return self.last_result

    def start(self) -> None:
        """Run at once, then every interval, on a daemon thread, until `stop`."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                self.run_once()
                self._wake.wait(self.interval_s)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name=f"job-{self.name}", daemon=True)
        self._thread.start()

    def trigger(self) -> bool:
        """Run once now on its own thread (an on-demand job); False if a run is already in progress."""
        if self._run_lock.locked():
            return False
        threading.Thread(target=self.run_once, name=f"job-{self.name}-once", daemon=True).start()
        return True

    def wake(self) -> None:
        """Run the next round now rather than at the end of the interval."""
        self._wake.set()

    def stop(self, wait_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(wait_s)
            self._thread = None

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "running": self._thread is not None and self._thread.is_alive(),
            "busy": self._run_lock.locked(),
            "interval_s": self.interval_s,
            "runs": self.runs,
            "last_started": self.last_started.isoformat() if self.last_started else None,
            "last_finished": self.last_finished.isoformat() if self.last_finished else None,
            "last_result": self.last_result,
            "last_error": self.last_error,
            "progress": self.progress,
        }
