"""One error family. Every failure a user can see is a DeflectError with a stable code.

    DeflectError (500 internal_error)
    ├── ValidationFailed (422 validation_failed)
    ├── Unauthorized (401 unauthorized)
    ├── Forbidden (403 forbidden): a valid key whose role may not do this
    ├── NotFound (404 not_found)
    ├── InvalidTransition (409 invalid_transition): an escalation action its current state does not allow
    ├── Conflict (409 conflict): a stale write (optimistic concurrency) or a duplicate id
    ├── ConfigError (500 config_error)
    ├── SourceError (422 bad_source): a knowledge file that cannot be parsed
    ├── PayloadTooLarge (413 payload_too_large): a request body over the configured limit
    ├── IndexUnavailable (503 index_unavailable): the index failed or did not answer in time
    │   └── IndexInUse (503 index_in_use): another process holds the embedded index's folder
    ├── StoreUnavailable (503 store_unavailable): the database failed or did not answer in time; nothing stored
    └── GeneratorUnavailable (503 generator_unavailable)

The API renders each as {"error": {"code", "message", "details"}} with its status.
"""

from __future__ import annotations

from typing import Any


class DeflectError(Exception):
    """Base of every error deflect raises on purpose."""

    code = "internal_error"
    status = 500

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class ValidationFailed(DeflectError):
    code, status = "validation_failed", 422


class Unauthorized(DeflectError):
    code, status = "unauthorized", 401


class Forbidden(DeflectError):
    code, status = "forbidden", 403


class NotFound(DeflectError):
    code, status = "not_found", 404


class Conflict(DeflectError):
    """Someone else changed the record first (stale version), or the id already exists."""

    code, status = "conflict", 409


class InvalidTransition(DeflectError):
    """An escalation action (or SLA clock change) that the current state does not allow."""

    code, status = "invalid_transition", 409


class ConfigError(DeflectError):
    code, status = "config_error", 500


class SourceError(DeflectError):
    """A knowledge file that cannot be parsed; carries its path and line."""

    code, status = "bad_source", 422

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}", [{"path": path, "line": line}])
        self.path = path
        self.line = line
        self._message = message

    def __reduce__(self) -> tuple[type[SourceError], tuple[str, str, int | None]]:
        # Sent back from a parse worker (deflect.ingest.parallel): rebuilt from what it was made of.
        return (SourceError, (self.path, self._message, self.line))


class PayloadTooLarge(DeflectError):
    code, status = "payload_too_large", 413


class IndexUnavailable(DeflectError):
    code, status = "index_unavailable", 503


class IndexInUse(IndexUnavailable):
    """The embedded index's folder is held by another process (deflect.index.owner)."""

    code, status = "index_in_use", 503


class StoreUnavailable(DeflectError):
    """The database could not be written or read within its bound. Whatever was being done was not stored."""

    code, status = "store_unavailable", 503


class GeneratorUnavailable(DeflectError):
    code, status = "generator_unavailable", 503
