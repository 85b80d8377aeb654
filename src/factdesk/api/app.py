"""The ASGI application `factdesk serve` runs: FastAPI for the JSON API and the OpenAI-compatible
endpoint (its OpenAPI schema generated from the same pydantic models), the MCP SDK's Streamable
HTTP transport at /mcp, /healthz, and around them the token check, the body limits and JSON
errors for every refusal.

Why FastAPI rather than bare Starlette (which the MCP SDK runs on, and FastAPI is built on): the
API's OpenAPI schema and its request validation come from the models that also document `ask
--json`, where by hand both would drift from the code; and its SSE encoder streams answers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from factdesk import __version__
from factdesk.api import chat, routes
from factdesk.api.access import AccessDenied, Tokens, is_loopback
from factdesk.api.gateway import Gateway, Refusal
from factdesk.api.limits import (
    BODY_PAUSE_SECONDS,
    CODES,
    LOOPBACK_NAMES,
    MAX_BODY_BYTES,
    RequestGuard,
    error_response,
)
from factdesk.api.mcp_server import GRANT_KEY, create_mcp
from factdesk.api.models import Health
from factdesk.api.routes import UNAUTHORIZED

logger = logging.getLogger("factdesk.api")

MCP_PATH = "/mcp"
HEALTH_PATH = "/healthz"

DESCRIPTION = """\
Cited answers from a newsroom's indexed news articles. `POST /v1/ask` answers (the same object \
as `factdesk ask --json`), `POST /v1/search` finds passages, `GET /v1/sources` lists a desk's \
articles; `/v1/chat/completions` and `/v1/models` speak OpenAI's chat API, and `/mcp` is an MCP \
server (Streamable HTTP). Send `Authorization: Bearer TOKEN` when the server has \
FACTDESK_API_TOKENS. Every error is JSON: `{"error": {"code": ..., "message": ...}}`."""


def create_app(
    gateway: Gateway,
    tokens: Tokens,
    host: str = "127.0.0.1",
    body_pause_seconds: float = BODY_PAUSE_SECONDS,
) -> FastAPI:
    """The whole server for `gateway`, asking for one of `tokens` (none: no token needed), as
    it is served on `host` (a loopback server accepts only loopback host names); a client that
    pauses longer than `body_pause_seconds` while sending a body is cut off."""
    mcp = create_mcp(gateway)
    # Called for the session manager it configures; the route below serves its transport at
    # /mcp itself (mounted, the SDK's own app would answer /mcp with a redirect to /mcp/).
    mcp.streamable_http_app(
        stateless_http=True,
        json_response=True,
        max_request_body_size=MAX_BODY_BYTES,
        host=host,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            logger.info(
                "Answering on /v1 (JSON API, OpenAI-compatible chat), %s (MCP) and %s; desks: %s",
                MCP_PATH,
                HEALTH_PATH,
                ", ".join(gateway.names),
            )
            yield

    app = FastAPI(
        title="factdesk",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.tokens = tokens
    app.include_router(routes.router(gateway))
    app.include_router(chat.router(gateway))
    door = McpDoor(StreamableHTTPASGIApp(mcp.session_manager), tokens)
    # A route's endpoint may be an ASGI app, served as it is; the annotation knows functions only.
    app.add_route(MCP_PATH, door, include_in_schema=False)  # type: ignore[arg-type]

    @app.get(
        HEALTH_PATH,
        response_model=Health,
        responses={503: {"model": Health, "description": "It cannot answer now, and why."}},
        tags=["health"],
    )
    async def healthz() -> JSONResponse:
        """Whether the server can answer now (it reaches its index); no token needed."""
        problem = await gateway.problem()
        health = Health(ok=problem is None, reason=problem)
        return JSONResponse(health.model_dump(exclude_none=True), 200 if health.ok else 503)

    app.add_api_route(HEALTH_PATH, healthz, methods=["HEAD"], include_in_schema=False)

    _errors_as_json(app)
    # On loopback, a page in a browser on this machine must not reach the server through DNS
    # rebinding (attacker.example resolving to 127.0.0.1): only loopback host names are served,
    # as the MCP SDK checks for its own transport.
    hosts = LOOPBACK_NAMES | {host.strip("[]")} if is_loopback(host) else None
    app.add_middleware(RequestGuard, hosts=hosts, pause_seconds=body_pause_seconds)
    return app


class McpDoor:
    """The token check in front of the MCP transport: a request without a good token gets a
    401 JSON error; one with a token carries its grant to the tools."""

    def __init__(self, app: ASGIApp, tokens: Tokens) -> None:
        self.app, self.tokens = app, tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                scope[GRANT_KEY] = self.tokens.grant(Headers(scope=scope).get("authorization"))
            except AccessDenied as exc:
                response = error_response(401, "unauthorized", str(exc), UNAUTHORIZED)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _errors_as_json(app: FastAPI) -> None:
    """Every refusal and failure as `{"error": {"code", "message"}}`, one line, no traceback."""

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = _validation_message(exc)
        return error_response(status, code, message)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("Failed on %s %s", request.method, request.url.path)
        return error_response(
            500, "internal_error", "factdesk failed on this request; its log says why."
        )


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    """The first few validation errors in one line: `question: Field required`."""
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        detail = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (detail.get("ctx") or {}).get("error", "")
        return 400, "invalid_json", f"The request body is not valid JSON ({reason})."
    if any(tuple(e.get("loc", ())) == ("body",) for e in errors):
        return 422, "invalid_request", "The request body must be a JSON object."
    parts = []
    for error in errors[:3]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return 422, "invalid_request", "; ".join(parts) + more
