"""The JSON shapes of the API's requests and replies, as pydantic models: FastAPI validates
requests against them and generates the OpenAPI schema from them; the MCP tools take and return
the same ones. An answer is `AnswerJSON`, the shape `factdesk ask --json` prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from factdesk.answer.conversation import MAX_HISTORY_TURNS
from factdesk.answer.schema import AnswerJSON

if TYPE_CHECKING:
    from factdesk.search.retrieval import Hit
    from factdesk.search.store import DocumentRecord

# An earlier turn longer than this is refused: history answers are read cut to 1,000 characters
# (conversation.MAX_ANSWER_CHARS), so a longer one only costs parsing.
MAX_TURN_CHARS = 20_000
MAX_SEARCH_PASSAGES = 20

__all__ = ["AnswerJSON"]


class Strict(BaseModel):
    """A request model: a misspelt field is refused rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class HistoryTurn(Strict):
    """An earlier exchange of the conversation."""

    question: str = Field(max_length=MAX_TURN_CHARS, description="What was asked.")
    answer: str = Field(
        default="",
        max_length=MAX_TURN_CHARS,
        description="What factdesk answered (its `answer` field); may be empty.",
    )


DESK = Field(
    default=None,
    description="The desk to ask; unset: the server's (`factdesk serve --desk`, else `default`), "
    "or the first desk the token may ask.",
)


class AskRequest(Strict):
    """A question, perhaps a follow-up in a conversation."""

    question: str = Field(
        min_length=1,
        description="The question, at most FACTDESK_MAX_QUESTION_CHARS characters (2,000 unless "
        "set).",
    )
    desk: str | None = DESK
    history: list[HistoryTurn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description=f"The conversation so far, oldest first (at most {MAX_HISTORY_TURNS} turns): "
        "the question is read as a follow-up to it.",
    )
    top_k: int | None = Field(
        default=None, ge=1, le=20, description="Passages to cite; unset: FACTDESK_TOP_K."
    )
    stream: bool = Field(
        default=False,
        description="Answer as server-sent events: `text` events as an LLM writes (sentences "
        "that passed the check so far), then one `answer` event, the answer to show in the "
        "end, or one `error` event.",
    )


class SearchRequest(Strict):
    """A search: passages that bear on a question, without an answer read from them."""

    query: str = Field(
        min_length=1,
        description="A question or keywords, at most FACTDESK_MAX_QUESTION_CHARS characters.",
    )
    desk: str | None = DESK
    limit: int = Field(
        default=5, ge=1, le=MAX_SEARCH_PASSAGES, description="How many passages, best first."
    )


class PassageJSON(BaseModel):
    """A retrieved passage of an article."""

    n: int = Field(description="Its rank, from 1.")
    passage: str = Field(description="The passage's text.")
    source: str = Field(description="The article: its file path or URL, as it was indexed.")
    title: str = Field(description="The article's title.")
    url: str | None = Field(description="The article's (canonical) URL; null for a file.")
    start: int = Field(description="Where the passage starts in the article's cleaned text.")
    end: int = Field(description="Where the passage ends in the article's cleaned text.")
    score: float = Field(
        description="Retrieval's fused score, 0 to 1 (dense and keyword sides together)."
    )
    published: str | None = Field(
        description="The article's publication date (ISO 8601), when known."
    )

    @classmethod
    def of(cls, n: int, hit: Hit) -> PassageJSON:
        chunk = hit.chunk
        return cls(
            n=n,
            passage=chunk.text,
            source=chunk.source,
            title=chunk.title,
            url=chunk.url,
            start=chunk.start,
            end=chunk.end,
            score=round(hit.score, 4),
            published=chunk.published,
        )


class SearchResults(BaseModel):
    """The passages found for a query."""

    query: str = Field(description="The query, as read (spaces tidied).")
    desk: str = Field(description="The desk searched.")
    passages: list[PassageJSON] = Field(description="The passages, best first.")


class ArticleJSON(BaseModel):
    """An article in a desk's index."""

    source: str = Field(description="Its file path or URL, as it was indexed.")
    title: str = Field(description="Its title.")
    url: str | None = Field(description="Its (canonical) URL; null for a file.")
    published: str | None = Field(description="Its publication date (ISO 8601), when known.")
    passages: int = Field(description="How many passages it was cut into.")

    @classmethod
    def of(cls, record: DocumentRecord) -> ArticleJSON:
        return cls(
            source=record.source,
            title=record.title,
            url=record.url,
            published=record.published,
            passages=record.chunks,
        )


class Sources(BaseModel):
    """What a desk can cite: the articles in its index."""

    desk: str = Field(description="The desk.")
    articles: list[ArticleJSON] = Field(description="Its articles, in the index's order.")


class DeskStatus(BaseModel):
    """One desk's index."""

    name: str = Field(description="The desk's name (`model` `factdesk-NAME` in chat).")
    collection: str = Field(description="Its Chroma collection.")
    articles: int = Field(description="Articles in its index.")
    passages: int = Field(description="Passages in its index.")


class Status(BaseModel):
    """What the server answers from."""

    version: str = Field(description="factdesk's version.")
    default_desk: str = Field(description="The desk asked when a request names none.")
    reader: str | None = Field(description="The span reader's version; null without a reader.")
    llm: bool = Field(description="Whether an LLM writes answers (FACTDESK_LLM_URL).")
    desks: list[DeskStatus] = Field(description="The desks this token may ask.")


class ErrorDetail(BaseModel):
    code: str = Field(
        description="What went wrong, for programs: `unauthorized`, `forbidden_desk`, "
        "`unknown_desk`, `invalid_request`, `question_too_long`, `body_too_large`, "
        "`too_many_requests`, `empty_index`, `store_unavailable`, ..."
    )
    message: str = Field(description="What went wrong and what to do, in one line, for people.")


class ErrorBody(BaseModel):
    """Every refusal and failure: a 4xx or 5xx status with this body, never a traceback."""

    error: ErrorDetail

    @classmethod
    def of(cls, code: str, message: str) -> ErrorBody:
        return cls(error=ErrorDetail(code=code, message=message))


class Health(BaseModel):
    ok: bool = Field(description="Whether the server can answer now.")
    reason: str | None = Field(default=None, description="Why not, when it cannot.")


class ChatContentPart(BaseModel):
    """A part of a message's content; only text parts are read."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One message of an OpenAI-style conversation."""

    model_config = ConfigDict(extra="allow")

    role: str = Field(description="`user`, `assistant`, `system`...; system messages are not read.")
    content: str | list[ChatContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content if part.text)
        return self.content or ""


MAX_MESSAGES = 200


class ChatRequest(BaseModel):
    """An OpenAI chat completion request. Sampling options (temperature, max_tokens...) are
    accepted and ignored: the answer is quoted or checked, never sampled anew."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(
        default=None,
        description="`factdesk` for the default desk, `factdesk-NAME` for desk NAME "
        "(`GET /v1/models` lists them).",
    )
    messages: list[ChatMessage] = Field(
        min_length=1,
        max_length=MAX_MESSAGES,
        description="The conversation: the last user message is the question, the earlier "
        f"turns its history (the last {MAX_HISTORY_TURNS} are read).",
    )
    stream: bool = Field(default=False, description="Reply as server-sent chunks, then [DONE].")
