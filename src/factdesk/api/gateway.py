"""The one way in for every door (the JSON API, MCP, chat completions): which desk a request may
ask, how many questions are answered at once and how many may wait, and the pipelines' errors
turned into refusals with an HTTP status and a message.

Answering is synchronous (onnxruntime, Chroma): every call runs on a worker thread, at most
`concurrency` at once, so that the event loop goes on reading requests, answering /healthz and
refusing what is past the bounds while questions are answered. A request is admitted before its
body is handed to a thread and only once it has been read whole, so a slow client holds no
thread; past `concurrency + queue` questions in the building, a request is refused at once (429)
rather than left to wait without end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread

from factdesk import __version__
from factdesk.answer.answers import Answer
from factdesk.answer.conversation import Turn
from factdesk.answer.question import CleanQuestion
from factdesk.api.access import Grant
from factdesk.api.models import ArticleJSON, DeskStatus, Sources, Status
from factdesk.errors import (
    FactdeskError,
    IncompatibleIndexError,
    QuestionError,
    StoreUnavailableError,
)

if TYPE_CHECKING:
    from factdesk.answer.llm import OnText
    from factdesk.answer.pipeline import Pipeline
    from factdesk.config import Settings
    from factdesk.search.retrieval import Hit
    from factdesk.service import DeskPipelines

logger = logging.getLogger("factdesk.api")

T = TypeVar("T")


class Refusal(Exception):
    """A request a door refuses or cannot answer: an HTTP status, a stable code for programs and
    a one-line message for people."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


class Gateway:
    """The desks' pipelines behind the doors; one per server process, used from its event
    loop."""

    def __init__(
        self, pipelines: DeskPipelines, default_desk: str, concurrency: int, queue: int
    ) -> None:
        self.pipelines = pipelines
        self.default_desk = default_desk
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._capacity = concurrency + queue
        self._admitted = 0  # changed on the event loop only

    @property
    def settings(self) -> Settings:
        return self.pipelines.settings

    @property
    def names(self) -> list[str]:
        return self.pipelines.desks.names

    def allowed(self, grant: Grant) -> list[str]:
        return [name for name in self.names if grant.allows(name)]

    def desk(self, name: str | None, grant: Grant) -> str:
        """The desk a request asks: the one it names, else the server's default, else the first
        one its token may ask. A desk the token may not ask is refused whether it exists or not,
        so that a token learns nothing about other desks."""
        allowed = self.allowed(grant)
        if name is None:
            if grant.allows(self.default_desk) or not allowed:
                return self.default_desk
            return allowed[0]
        if not grant.allows(name):
            raise Refusal(
                403,
                "forbidden_desk",
                f"This token may not ask the {name!r} desk (it may ask: {', '.join(allowed)}).",
            )
        if name not in self.names:
            raise Refusal(
                404, "unknown_desk", f"There is no {name!r} desk (desks: {', '.join(allowed)})."
            )
        return name

    def question(self, text: str) -> CleanQuestion:
        """The question as the pipeline reads it; one past FACTDESK_MAX_QUESTION_CHARS is refused
        here (the terminal cuts it with a warning, which a program would not see)."""
        limit = self.settings.max_question_chars
        length = len(" ".join(text.split()))
        if length > limit:
            raise Refusal(
                422,
                "question_too_long",
                f"The question has {length:,} characters; at most {limit:,} are read "
                "(FACTDESK_MAX_QUESTION_CHARS).",
            )
        try:
            return CleanQuestion.of(text, limit)
        except QuestionError as exc:
            raise Refusal(422, "invalid_request", str(exc)) from None

    async def ask(
        self,
        desk: str,
        question: str,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        on_text: OnText | None = None,
    ) -> Answer:
        """The desk's answer, as `factdesk ask --desk DESK` gives it."""
        clean = self.question(question)
        pipeline = self.pipelines.pipeline(desk)

        def answer() -> Answer:
            found = pipeline.ask(clean, history, top_k, on_text)
            _check_filled(pipeline, desk)
            return found

        return await self.run(answer)

    async def search(self, desk: str, query: str, limit: int) -> tuple[str, list[Hit]]:
        """The query as read and the passages found for it, best first."""
        clean = self.question(query)
        pipeline = self.pipelines.pipeline(desk)

        def search() -> list[Hit]:
            hits = pipeline.search(clean, limit=limit)
            _check_filled(pipeline, desk)
            return hits

        return clean.text, await self.run(search)

    async def sources(self, desk: str) -> Sources:
        status = await self.run(lambda: self.pipelines.status(desk))
        return Sources(desk=desk, articles=[ArticleJSON.of(d) for d in status.documents])

    async def status(self, grant: Grant) -> Status:
        pipeline = self.pipelines.pipeline(self.default_desk)
        reader = pipeline.reader

        def desks() -> list[DeskStatus]:
            found = []
            for name in self.allowed(grant):
                status = self.pipelines.status(name)
                found.append(
                    DeskStatus(
                        name=name,
                        collection=status.settings.collection_name,
                        articles=len(status.documents),
                        passages=sum(d.chunks for d in status.documents),
                    )
                )
            return found

        return Status(
            version=__version__,
            default_desk=self.default_desk,
            reader=reader.version if reader else None,
            llm=pipeline.llm is not None,
            desks=await self.run(desks),
        )

    async def problem(self) -> str | None:
        """Why the server cannot answer now (the index is unreachable), or None. Not bounded by
        the questions' threads: a busy server is still healthy. Where the index is stays in the
        log: /healthz needs no token."""
        try:
            await anyio.to_thread.run_sync(self.pipelines.check_store)
        except Exception as exc:
            logger.warning("Health check: %s", exc)
            return "cannot reach the index"
        return None

    async def run(self, work: Callable[[], T]) -> T:
        """`work` on a worker thread once one is free; refused at once when `concurrency +
        queue` requests are already in; the pipeline's errors as refusals."""
        if self._admitted >= self._capacity:
            raise Refusal(
                429,
                "too_many_requests",
                f"{self._capacity} questions are being answered or waiting; try again in a moment.",
                {"Retry-After": "1"},
            )
        self._admitted += 1
        try:
            return await anyio.to_thread.run_sync(work, limiter=self._limiter)
        except Refusal:
            raise
        except FactdeskError as exc:
            raise _refusal(exc) from None
        finally:
            self._admitted -= 1


def _check_filled(pipeline: Pipeline, desk: str) -> None:
    """An index with nothing in it cannot answer anything: say so, rather than decline."""
    if pipeline.passage_count == 0:
        raise Refusal(
            409,
            "empty_index",
            f"The {desk} desk's index is empty: nothing has been indexed for it yet "
            f"(`factdesk index --desk {desk}`).",
        )


def _refusal(exc: FactdeskError) -> Refusal:
    """The pipeline's errors as the API reports them; where the store is stays in the log."""
    if isinstance(exc, QuestionError):
        return Refusal(422, "invalid_request", str(exc))
    if isinstance(exc, StoreUnavailableError):
        logger.warning("Store unavailable: %s", exc)
        return Refusal(
            503, "store_unavailable", "The index cannot be reached right now; try again shortly."
        )
    if isinstance(exc, IncompatibleIndexError):
        logger.error("%s", exc)
        return Refusal(
            503,
            "index_incompatible",
            "The index was built with other settings and must be rebuilt before it answers.",
        )
    logger.error("Failed to answer: %s", exc)
    return Refusal(500, "failed", str(exc))


def turns(history: Sequence[Any]) -> list[Turn]:
    """History turns (anything with `question` and `answer`) as the pipeline takes them."""
    return [Turn(turn.question, turn.answer) for turn in history]
