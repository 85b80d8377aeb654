"""Checks on a request before anything reads it: the host it names (on loopback), its body's
size, and how long the client may pause while sending it. The other bounds (question length,
history length, questions at once) are in the request models and the gateway.
"""

from __future__ import annotations

from collections.abc import Mapping

import anyio
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from factdesk.api.models import ErrorBody

MAX_BODY_BYTES = 1024 * 1024
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
# A client that stops sending its body for this long is cut off: it holds a connection, never a
# worker thread, but connections are not free either.
BODY_PAUSE_SECONDS = 10.0

CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(ErrorBody.of(code, message).model_dump(), status, headers=headers)


class RequestGuard:
    """ASGI middleware, outermost: a host name not in `hosts` (when given) gets 400, a body
    declared or found larger than `max_bytes` 413, a sender pausing longer than `pause_seconds`
    408, each as a JSON error. A body is counted as it is read, so what is refused was never
    held whole in memory."""

    def __init__(
        self,
        app: ASGIApp,
        hosts: frozenset[str] | None = None,
        max_bytes: int = MAX_BODY_BYTES,
        pause_seconds: float = BODY_PAUSE_SECONDS,
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.max_bytes = max_bytes
        self.pause_seconds = pause_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.hosts is not None and _host_name(headers.get("host", "")) not in self.hosts:
            message = "This server answers to loopback host names only (127.0.0.1, localhost)."
            await error_response(400, "invalid_host", message)(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        received = 0
        complete = False
        started = False

        async def bounded_receive() -> Message:
            nonlocal received, complete
            if complete:  # past the body only a disconnect comes, whenever the client leaves
                return await receive()
            try:
                with anyio.fail_after(self.pause_seconds):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408, f"The request body stopped arriving for {self.pause_seconds:g} s."
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._too_large_text())
                complete = not message.get("more_body", False)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracked_send)
        except HTTPException as exc:  # raised while reading, outside any route's handlers
            if started:
                raise
            code = CODES.get(exc.status_code, "invalid_request")
            await error_response(exc.status_code, code, exc.detail)(scope, receive, send)

    def _too_large_text(self) -> str:
        return f"The request body is larger than {self.max_bytes // 1024:,} KB."

    def _too_large(self) -> JSONResponse:
        return error_response(413, "body_too_large", self._too_large_text())


def _host_name(host: str) -> str:
    """`127.0.0.1:8080` as `127.0.0.1`, `[::1]:8080` as `::1`."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host
