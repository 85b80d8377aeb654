"""The JSON API: /v1/ask, /v1/search, /v1/sources and /v1/status. An answer is the same object
`factdesk ask --json` prints; a streamed one arrives as server-sent events."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import format_sse_event

from factdesk.answer.answers import Answer
from factdesk.answer.schema import AnswerJSON
from factdesk.api.access import AccessDenied, Grant, Tokens
from factdesk.api.gateway import Gateway, Refusal, turns
from factdesk.api.models import (
    AskRequest,
    ErrorBody,
    PassageJSON,
    SearchRequest,
    SearchResults,
    Sources,
    Status,
)

logger = logging.getLogger("factdesk.api")

# The refusals every route may answer with, for the OpenAPI schema.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": meaning}
    for status, meaning in {
        401: "No bearer token, or not one of FACTDESK_API_TOKENS.",
        403: "The token may not ask that desk.",
        404: "No such desk.",
        409: "The desk's index is empty.",
        413: "The request body is over 1 MB.",
        422: "The request is malformed, or past a bound (question, history).",
        429: "Too many questions in the building; retry after a second.",
        503: "The index cannot be reached now.",
    }.items()
}

STREAMED = {
    "description": 'The answer, or with `stream` server-sent events: `text` (`{"text": ...}`, '
    "an LLM's checked sentences as they come), then `answer` (the answer) or `error` "
    '(`{"error": {"code", "message"}}`).',
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}
_bearer = HTTPBearer(
    auto_error=False, description="One of FACTDESK_API_TOKENS (not needed when it is unset)."
)


def authenticate(
    request: Request,
    # Documents the header in the OpenAPI schema; the token is checked below, in constant time
    # against every token.
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Grant:
    """What the request's token may ask (the app's `state.tokens` says which tokens count)."""
    tokens: Tokens = request.app.state.tokens
    try:
        return tokens.grant(request.headers.get("authorization"))
    except AccessDenied as exc:
        raise Refusal(401, "unauthorized", str(exc), UNAUTHORIZED) from None


Access = Annotated[Grant, Depends(authenticate)]


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["factdesk"], responses=ERRORS)

    @api.post("/ask", response_model=AnswerJSON, responses={200: STREAMED})
    async def ask(request: AskRequest, grant: Access) -> Any:
        """Answer a question from a desk's articles, with citations; a decline, with related
        passages, when they do not say."""
        desk = gateway.desk(request.desk, grant)
        history = turns(request.history)
        if request.stream:
            gateway.question(request.question)  # a bad question is refused before the stream
            return _stream(gateway, desk, request, history)
        return AnswerJSON.of(await gateway.ask(desk, request.question, history, request.top_k))

    @api.post("/search", response_model=SearchResults)
    async def search(request: SearchRequest, grant: Access) -> SearchResults:
        """The passages that bear on a query, best first, without an answer."""
        desk = gateway.desk(request.desk, grant)
        query, hits = await gateway.search(desk, request.query, request.limit)
        passages = [PassageJSON.of(n, hit) for n, hit in enumerate(hits, 1)]
        return SearchResults(query=query, desk=desk, passages=passages)

    @api.get("/sources", response_model=Sources)
    async def sources(
        grant: Access,
        desk: Annotated[str | None, Query(description="The desk; unset: the default.")] = None,
    ) -> Sources:
        """The articles a desk can cite."""
        return await gateway.sources(gateway.desk(desk, grant))

    @api.get("/status", response_model=Status)
    async def status(grant: Access) -> Status:
        """The desks this token may ask, what their indexes hold, and how answers are made."""
        return await gateway.status(grant)

    return api


def _stream(gateway: Gateway, desk: str, request: AskRequest, history) -> StreamingResponse:
    """The answer as server-sent events. The answer is computed on a worker thread that hands
    each piece of text to the event loop and never waits for the client: a slow reader holds
    only its own connection."""

    async def events() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()

        def on_text(text: str) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, text)

        task = asyncio.ensure_future(
            gateway.ask(desk, request.question, history, request.top_k, on_text)
        )
        task.add_done_callback(_finished(pieces))
        while (piece := await pieces.get()) is not None:
            yield format_sse_event(event="text", data_str=json.dumps({"text": piece}))
        yield _last_event(task)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _finished(pieces: asyncio.Queue[str | None]) -> Callable[[asyncio.Future[Answer]], None]:
    def finished(task: asyncio.Future[Answer]) -> None:
        pieces.put_nowait(None)
        if not task.cancelled():
            task.exception()  # retrieved here too, for a client gone before the end

    return finished


def _last_event(task: asyncio.Future[Answer]) -> bytes:
    try:
        answer = task.result()
    except Refusal as exc:
        body = ErrorBody.of(exc.code, exc.message)
        return format_sse_event(event="error", data_str=body.model_dump_json())
    except Exception:
        logger.exception("Failed to answer a streamed question")
        body = ErrorBody.of("internal_error", "factdesk failed on this question; see its log.")
        return format_sse_event(event="error", data_str=body.model_dump_json())
    return format_sse_event(event="answer", data_str=AnswerJSON.of(answer).model_dump_json())
