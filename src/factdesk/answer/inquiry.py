"""What goes forward along the road: one `Inquiry` per question, which every stage hands on to
the next with what it found added (the vectors and passages, the ranked sentences, the spans,
the decision). Nothing on it changes once set, so a stage can be read knowing exactly what the
stages before it gave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from factdesk.answer.answers import Citation, ShortAnswer

if TYPE_CHECKING:
    import numpy as np

    from factdesk.answer.conversation import Query
    from factdesk.answer.reader import Span
    from factdesk.search.retrieval import Hit


@dataclass(frozen=True)
class Sentence:
    """A sentence of a retrieved passage (`hit`) as the pre-rank scored it: `start` and `end` are
    offsets into the article, `cosine` its cosine to the question, `score` the pre-rank's."""

    hit: Hit
    start: int
    end: int
    cosine: float
    score: float
    # Without a reader, only confirmed sentences may decide and be quoted: their cosine was read
    # alone, or was clearly above the threshold already (reading.py).
    confirmed: bool = True

    @property
    def deciding_cosine(self) -> float:
        """The cosine that decides whether to answer: 0 for a sentence not confirmed."""
        return self.cosine if self.confirmed else 0.0

    @property
    def text(self) -> str:
        return self.hit.chunk.excerpt(self.start, self.end)

    def citation(self, n: int, *neighbours: Sentence) -> Citation:
        """Citation `n`, quoting this sentence (and the neighbours after it, if given)."""
        end = neighbours[-1].end if neighbours else self.end
        score = max(s.cosine for s in (self, *neighbours))
        return Citation.of(n, self.hit.chunk, self.start, end, score)


@dataclass(frozen=True)
class Found:
    """A span the reader found in a retrieved passage; `confidence` is set by the decision."""

    hit: Hit
    span: Span
    confidence: float = 0.0

    @property
    def short_answer(self) -> ShortAnswer:
        start = self.hit.chunk.start + self.span.start
        return ShortAnswer(self.span.text, start, start + len(self.span.text))

    @property
    def bounds(self) -> tuple[int, int]:
        """The sentence or sentences holding the span (offsets within the passage): the
        neighbour is quoted only when the span runs into it."""
        sentences = self.hit.chunk.sentences or ((0, len(self.hit.chunk.text)),)
        holding = [(a, b) for a, b in sentences if a < self.span.end and b > self.span.start]
        if not holding:
            return self.span.start, self.span.end
        return holding[0][0], holding[-1][1]

    @property
    def quote(self) -> str:
        start, end = self.bounds
        return self.hit.chunk.text[start:end]

    def citation(self, n: int) -> Citation:
        start, end = (self.hit.chunk.start + offset for offset in self.bounds)
        return Citation.of(n, self.hit.chunk, start, end, self.confidence)


@dataclass(frozen=True)
class Decision:
    """Whether to answer, how confident, and what to quote.

    With the reader, `spans` holds the spans that passed the threshold, the one to quote first;
    without it, `sentences` holds the sentence to quote and, when it passed too, its neighbour.
    `candidates` are the sentences the other citations, or a decline's related passages, are
    drawn from.
    """

    answered: bool
    confidence: float
    spans: tuple[Found, ...] = ()
    sentences: tuple[Sentence, ...] = ()
    candidates: tuple[Sentence, ...] = ()


@dataclass(frozen=True, eq=False)
class Inquiry:
    """One question on its way to its answer; each stage fills in its part."""

    query: Query  # the question as asked (cleaned) and as read in its conversation
    top_k: int  # the passages the answer may cite
    warnings: tuple[str, ...] = ()
    # Retrieval: the vector searched with (with a conversation's earlier turns), the question's
    # own (to judge sentences), and the passages found, best first.
    search_vector: np.ndarray | None = None
    vector: np.ndarray | None = None
    hits: tuple[Hit, ...] = ()
    # The pre-rank: every sentence of those passages, best first; and the question's words
    # (stemmed), each weighted by its rarity in the index.
    ranked: tuple[Sentence, ...] = ()
    terms: tuple[tuple[str, float], ...] = ()
    # Reading: the reader's version and the spans it found; the candidate sentences (read as
    # sentences, the best ones confirmed).
    reader_version: str | None = None
    read_as_sentences: bool = False
    spans: tuple[Found, ...] = ()
    sentences: tuple[Sentence, ...] = ()
    decision: Decision | None = None

    @property
    def cited(self) -> tuple[Hit, ...]:
        """The passages the answer may cite."""
        return self.hits[: self.top_k]
