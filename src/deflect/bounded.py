"""Bounded waits on an outside dependency: every call ends within a deadline, and a failing dependency is not
called again for a short while (a circuit breaker), so an outage costs each request milliseconds, not the timeout.

A call that times out keeps running on its worker thread (Python cannot kill a thread stuck in a socket read);
the pool is small and fixed, so a hung dependency ties up at most `workers` threads while callers keep getting
their answer in time: later calls queue, time out in turn, and are cancelled before they start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from deflect.errors import DeflectError

log = logging.getLogger(__name__)

T = TypeVar("T")


class Bounded:
    """Runs calls to one dependency with a deadline; failures raise `error` and open the breaker for `retry_after_s`."""

    def __init__(
        self,
        name: str,
        timeout_s: float,
        error: type[DeflectError],
        retry_after_s: float = 5.0,
        workers: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self._error = error
        self._retry_after_s = retry_after_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"bounded-{name}")
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until = 0.0
        self.last_error: str | None = None

    def call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """fn(*args, **kwargs), or `error` when the breaker is open, the call fails, or it takes too long."""
        with self._lock:
            if self._clock() < self._open_until:
                raise self._error(
                    f"{self.name} is unavailable ({self.last_error}); retrying in at most {self._retry_after_s:g}s",
                    [{"dependency": self.name, "breaker": "open"}],
                )
        future: Future[T] = self._pool.submit(fn, *args, **kwargs)
        try:
            result = future.result(timeout=self.timeout_s)
        except FutureTimeout:
            future.cancel()  # a call still queued behind hung ones never starts
            self._trip(f"no answer within {self.timeout_s:g}s")
            raise self._error(
                f"{self.name} did not answer within {self.timeout_s:g}s",
                [{"dependency": self.name, "timeout_s": self.timeout_s}],
            ) from None
        except DeflectError as exc:
            if isinstance(exc, self._error):
                self._trip(exc.message)
            raise
        except Exception as exc:  # a client library failing in its own way is an outage of that dependency
            log.warning("%s call failed: %s: %s", self.name, type(exc).__name__, exc)
            self._trip(f"{type(exc).__name__}: {exc}")
            raise self._error(f"{self.name} failed: {type(exc).__name__}", [{"dependency": self.name}]) from exc
        with self._lock:
            self._open_until = 0.0
            self.last_error = None
        return result

    def _trip(self, why: str) -> None:
        with self._lock:
            self._open_until = self._clock() + self._retry_after_s
            self.last_error = why

    def close(self) -> None:
        """Stop accepting calls; does not wait for hung ones."""
        self._pool.shutdown(wait=False, cancel_futures=True)
