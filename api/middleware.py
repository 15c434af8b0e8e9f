"""ASGI middleware: request body limits, request logs and metrics for every request."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics

access_log = logging.getLogger("verbatim.access")


class BodyTooLarge(Exception):
    """The client sent more bytes than the endpoint accepts."""


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    """Answer directly from middleware, in the API's error shape."""
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


class BodyLimit:
    """Refuse oversized bodies with 413 before they are read into memory."""

    def __init__(self, app: ASGIApp, upload_bytes: int, other_bytes: int = 1_000_000,
                 upload_prefix: str = "/v1/documents") -> None:
        """Uploads get `upload_bytes`; every other request `other_bytes`."""
        self.app = app
        self.upload_bytes = upload_bytes
        self.other_bytes = other_bytes
        self.upload_prefix = upload_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count what actually arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = (self.upload_bytes if scope["path"].startswith(self.upload_prefix)
                 else self.other_bytes)
        reason = {"detail": f"the request body is larger than {limit} bytes"}
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _send_json(send, 413, reason)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _send_json(send, 413, reason)


class ObserveRequests:
    """Log one structured line and update the metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        """Wrap the app; `metrics` receives every finished request."""
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request, note its status and endpoint, and tag it with a request id."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = Headers(scope=scope).get("x-request-id", "")[:64] or uuid.uuid4().hex
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - start
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], endpoint, status, seconds)
            client = scope.get("client")
            # The message reads on its own in text logs; JSON logs also get every field.
            access_log.info("%s %s %s %.1f ms", scope["method"], scope["path"], status,
                            seconds * 1000, extra={
                                "request_id": request_id, "method": scope["method"],
                                "path": scope["path"], "endpoint": endpoint, "status": status,
                                "duration_ms": round(seconds * 1000, 2),
                                "client": client[0] if client else None})


SECURITY_HEADERS = [
    # Everything the page needs comes from this server; nothing may frame it or run inline.
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; "
                                 b"img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                                 b"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """Add the browser security headers to every response (the page quotes untrusted text)."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap the app."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Append the headers to each response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
