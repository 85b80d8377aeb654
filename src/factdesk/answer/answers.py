"""What factdesk says to a question (`Answer`, with its `Citation`s and its `ShortAnswer`), and
`Answerer`: the one protocol for what answers, which every front end asks (the CLI, the Slack
bot, the HTTP API and MCP, evaluations).

The answer is built once, by the road's last stage (composition.py); front ends render it as it
is, and schema.py gives its JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from factdesk.answer.conversation import Turn
    from factdesk.answer.question import CleanQuestion
    from factdesk.search.passages import Chunk

NOT_FOUND = "I couldn't find that in the indexed articles."


@dataclass(frozen=True)
class Citation:
    """One quoted sentence and the passage around it, pointing at its exact place in a source."""

    n: int
    quote: str
    passage: str
    source: str
    title: str
    url: str | None
    start: int
    end: int
    score: float
    published: str | None = None  # the article's publication date (ISO 8601), when known

    @classmethod
    def of(cls, n: int, chunk: Chunk, start: int, end: int, score: float) -> Citation:
        """Citation `n`: the text between two offsets into the article, within `chunk`."""
        return cls(
            n=n,
            quote=chunk.excerpt(start, end),
            passage=chunk.text,
            source=chunk.source,
            title=chunk.title,
            url=chunk.url,
            start=start,
            end=end,
            score=round(score, 4),
            published=chunk.published,
        )


@dataclass(frozen=True)
class ShortAnswer:
    """The reader's answer: the span's exact characters and their offsets in the article (the
    same coordinates as the first citation's)."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    """What factdesk says to a question, in the shape every front end renders."""

    question: str
    answered: bool
    answer: str
    citations: list[Citation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    confidence: float = 0.0
    reader: str | None = None
    # "llm" when a checked LLM answer is shown; "extractive" otherwise, with `withheld` naming
    # why an LLM answer was not shown (a failed check, a timeout...), if one was asked for.
    mode: str = "extractive"
    withheld: str | None = None
    # The question as it was read, when a conversation changed it ("What did he say?" read as
    # "What did Russia's ambassador in Venezuela say?").
    standalone: str | None = None
    short_answer: ShortAnswer | None = None

    def marked_quote(self) -> tuple[str, str, str] | None:
        """The first citation's quote cut around the short answer (before, the answer, after),
        for a front end to show the answer's words in bold; None when there is no short answer
        to show (a decline, an LLM's answer)."""
        short = self.short_answer
        if short is None or self.mode != "extractive" or not self.citations:
            return None
        first = self.citations[0]
        a, b = short.start - first.start, short.end - first.start
        return first.quote[:a], first.quote[a:b], first.quote[b:]


class Answerer(Protocol):
    """What answers a question; `pipeline.Pipeline` is the one factdesk runs over an index."""

    @property
    def streams(self) -> bool:
        """Whether `on_text` hears the answer piece by piece (only an LLM's arrives so)."""
        ...

    def ask(
        self,
        question: str | CleanQuestion,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> Answer:
        """The answer to `question` after `history` (oldest turn first), citing at most `top_k`
        passages; `on_text` receives checked text as it streams."""
        ...
