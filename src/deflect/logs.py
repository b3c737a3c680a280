"""Structured logs: one JSON object per line with the request id of the HTTP request being served (if any).

The API sets `request_id` for each request (deflect.api.requestid); every record logged while serving it, in any
thread the request runs code in, carries it. Records are scrubbed of personal data by the PII filter before they
are formatted (both filters sit on the handlers; see deflect.wiring.install_log_scrubbing).
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

request_id: ContextVar[str | None] = ContextVar("deflect_request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id`: the id of the request being served, or None outside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """{"at", "level", "logger", "message", "request_id"} plus "exception" when there is one, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def use_json_logs(level: int = logging.INFO) -> None:
    """Format every root handler's records as JSON lines with request ids, from `level` up."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
