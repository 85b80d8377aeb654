"""The OpenAI-compatible door: /v1/models (one model per desk) and /v1/chat/completions, so that
Open WebUI, LibreChat or any OpenAI client chats with factdesk.

The conversation's last user message is the question and the earlier turns its history; the
reply is the answer with its citations as text (text.py). A streamed reply starts once the
answer is final: a chat cannot take back what it has shown, so an LLM's draft is never shown
before it has passed the citation check. The response shapes are the openai package's own models.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from fastapi.sse import format_sse_event
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import ChoiceDelta
from pydantic import BaseModel

from factdesk.answer.conversation import MAX_HISTORY_TURNS, Turn
from factdesk.api.gateway import Gateway, Refusal
from factdesk.api.models import ChatMessage, ChatRequest
from factdesk.api.routes import ERRORS, Access
from factdesk.api.text import answer_text, first_paragraph

PREFIX = "factdesk"
STARTED = int(time.time())


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


def model_id(desk: str) -> str:
    return f"{PREFIX}-{desk}"


def desk_of(model: str | None, known: Sequence[str]) -> str | None:
    """The desk a model names: `factdesk-NAME` is desk NAME; `factdesk` (or none) the server's
    default desk."""
    if model is None or model == PREFIX:
        return None
    if model.startswith(f"{PREFIX}-"):
        return model.removeprefix(f"{PREFIX}-")
    listed = ", ".join(model_id(desk) for desk in known)
    raise Refusal(404, "model_not_found", f"There is no model {model!r} here (models: {listed}).")


def conversation(messages: Sequence[ChatMessage]) -> tuple[str, list[Turn]]:
    """The question (the last user message) and the turns before it; system and tool messages
    are not read, and an earlier reply is read without its list of sources."""
    said = [m for m in messages if m.role in ("user", "assistant")]
    if not said or said[-1].role != "user":
        raise Refusal(422, "invalid_request", "The last message must be the user's question.")
    turns: list[Turn] = []
    asked: str | None = None
    for message in said[:-1]:
        if message.role == "user":
            if asked is not None:
                turns.append(Turn(asked))
            asked = message.text
        elif asked is not None:
            turns.append(Turn(asked, first_paragraph(message.text)))
            asked = None
    if asked is not None:
        turns.append(Turn(asked))
    return said[-1].text, turns[-MAX_HISTORY_TURNS:]


def router(gateway: Gateway) -> APIRouter:
    chat = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], responses=ERRORS)

    @chat.get("/models", response_model=ModelList)
    async def models(grant: Access) -> ModelList:
        """One model per desk this token may ask: `factdesk-NAME`."""
        return ModelList(
            data=[
                Model(id=model_id(desk), created=STARTED, object="model", owned_by=PREFIX)
                for desk in gateway.allowed(grant)
            ]
        )

    @chat.post("/chat/completions", response_model=ChatCompletion, response_model_exclude_none=True)
    async def completions(request: ChatRequest, grant: Access) -> Any:
        """The answer to the conversation's last user message, with its citations as text."""
        desk = gateway.desk(desk_of(request.model, gateway.allowed(grant)), grant)
        question, history = conversation(request.messages)
        answer = await gateway.ask(desk, question, history)
        reply = Reply(model_id(desk), answer_text(answer))
        if request.stream:
            return StreamingResponse(reply.chunks(), media_type="text/event-stream")
        return reply.completion()

    return chat


class Reply:
    """A finished answer as an OpenAI completion, whole or in chunks."""

    def __init__(self, model: str, text: str) -> None:
        self.model, self.text = model, text
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def completion(self) -> ChatCompletion:
        message = ChatCompletionMessage(role="assistant", content=self.text)
        return ChatCompletion(
            id=self.id,
            object="chat.completion",
            created=self.created,
            model=self.model,
            choices=[Choice(index=0, message=message, finish_reason="stop")],
        )

    async def chunks(self) -> AsyncIterator[bytes]:
        """The role, then the text a line at a time, then the stop, then [DONE]."""
        yield self._chunk(ChoiceDelta(role="assistant", content=""))
        for line in self.text.splitlines(keepends=True):
            yield self._chunk(ChoiceDelta(content=line))
        yield self._chunk(ChoiceDelta(), finish_reason="stop")
        yield format_sse_event(data_str="[DONE]")

    def _chunk(self, delta: ChoiceDelta, finish_reason: Literal["stop"] | None = None) -> bytes:
        chunk = ChatCompletionChunk(
            id=self.id,
            object="chat.completion.chunk",
            created=self.created,
            model=self.model,
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish_reason)],
        )
        return format_sse_event(data_str=chunk.model_dump_json(exclude_none=True))
