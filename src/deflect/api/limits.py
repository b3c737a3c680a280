"""Request hygiene before any route runs: a body-size limit enforced before parsing and authentication, and JSON
bodies refused when a string holds a lone UTF-16 surrogate (it cannot be stored or echoed as UTF-8)."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deflect.api.errors import error_body


def _first_surrogate(value: Any, path: str = "") -> str | None:
    """The path of the first string (or key) containing a lone surrogate, or None."""
    if isinstance(value, str):
        return path if any("\ud800" <= ch <= "\udfff" for ch in value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = _first_surrogate(key, where) or _first_surrogate(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _first_surrogate(item, f"{path}.{i}" if path else str(i))
            if found is not None:
                return found
    return None


class RequestLimits:
    """ASGI middleware: bodies over `max_body_bytes` get 413 (by Content-Length at once, else as soon as the
    streamed body passes the limit) without being parsed or the caller authenticated; the whole body is at most
    `max_body_bytes` in memory."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = -1
            if size < 0:
                await self._refuse(send, 400, "bad_request", "Content-Length is not a number")
                return
            if size > self.max_body_bytes:
                await self._too_large(send)
                return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_body_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and b"json" in headers.get(b"content-type", b"") and b"\\u" in body.lower():
            try:
                where = _first_surrogate(json.loads(body))
            except ValueError:
                where = None  # not JSON: the route's own validation says so
            if where is not None:
                await self._refuse(
                    send,
                    422,
                    "validation_failed",
                    "the request is not valid",
                    [{"field": where, "problem": "lone_surrogate", "message": "text holds a lone UTF-16 surrogate"}],
                )
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await self._refuse(
            send,
            413,
            "payload_too_large",
            f"the request body is larger than {self.max_body_bytes} bytes",
            [{"limit_bytes": self.max_body_bytes}],
        )

    @staticmethod
    async def _refuse(
        send: Send, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        payload = json.dumps(error_body(code, message, details)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})
