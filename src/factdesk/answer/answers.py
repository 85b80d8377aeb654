"""Extractive answers: the short answer and the sentence that holds it, with citations.

No language model is involved. The reader finds the short answer in the best retrieved passages
and the answer quotes, verbatim, the sentence that holds it, followed by its citation marker;
without a reader, the pre-rank's best sentence is quoted. When nothing in the index answers well
enough it says so instead of quoting something unrelated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from factdesk.answer.answer_types import holds_new_answer
from factdesk.answer.conversation import Query
from factdesk.answer.schema import AnswerJSON
from factdesk.config import Settings
from factdesk.errors import QuestionError
from factdesk.search.keyword import terms
from factdesk.search.retrieval import Hit, Retriever

if TYPE_CHECKING:
    from factdesk.answer.reader import Reader, Span
    from factdesk.search.embeddings import Embedder
    from factdesk.search.passages import Chunk

NOT_FOUND = "I couldn't find that in the indexed articles."

# The pre-rank of sentences: cosine to the question, plus the share of its (IDF-weighted) words
# in the sentence and in the sentence with the one before it, plus a bonus for a new thing of the
# kind asked for. Fitted on SQuAD train articles (benchmarks/README.md, "The pre-rank").
OVERLAP_WEIGHT = 0.25
WITH_PREVIOUS_WEIGHT = 0.35
ANSWER_TYPE_BONUS = 0.15
# Passages whose sentences are pre-ranked, and the sentences kept to be cited.
READ_PASSAGES = 5
PRE_RANK = 12
# The span reader reads the best few retrieved passages whole; more finds more answers and more
# false ones (chosen on the tune articles, see the reader's model card).
SPAN_PASSAGES = 3
# Without a reader, the best few sentences are embedded alone, and their cosine decides whether to
# answer: read alone, a sentence tells better whether it answers at all. Only close calls, within
# CONFIRM_MARGIN of the threshold, pay for that.
CONFIRM = 5
CONFIRM_MARGIN = 0.18
BASELINE_COSINE = 0.22
# A declined question lists, as related reading, passages with a sentence at least this similar:
# at 0.4 nearly every question has one in its own article and few in another.
RELATED_COSINE = 0.4
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


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

    def to_dict(self) -> dict:
        """The documented JSON shape of `factdesk ask --json` and the API (schema.AnswerJSON;
        warnings go to stderr, not here)."""
        return AnswerJSON.of(self).model_dump(mode="json")


@dataclass(frozen=True)
class _Sentence:
    """A candidate sentence for the answer, with the passage (hit) it was found in."""

    hit: Hit
    start: int
    end: int
    cosine: float
    score: float
    probability: float = 0.0  # the cosine read alone, which decides whether to answer
    read: bool = True  # False: not read alone, so `probability` is 0


@dataclass(frozen=True)
class _Found:
    """A span the reader found in a retrieved passage, with its calibrated confidence."""

    hit: Hit
    span: Span
    confidence: float

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
        return _cite(n, self.hit.chunk, start, end, self.confidence)


@dataclass(frozen=True)
class CleanQuestion:
    """A question as `clean_question` left it, so that nothing downstream cleans it again."""

    text: str
    warnings: tuple[str, ...] = ()

    @classmethod
    def of(cls, question: str, max_chars: int) -> CleanQuestion:
        text, warnings = clean_question(question, max_chars)
        return cls(text, tuple(warnings))


def clean_question(question: str, max_chars: int) -> tuple[str, list[str]]:
    """Normalise a question; empty ones are refused and over-long ones cut, with a warning."""
    text = _CONTROL.sub(" ", question or "")
    text = " ".join(text.split())
    if not text:
        raise QuestionError('The question is empty. Ask something like "How many advisers remain?"')
    warnings = []
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] or text[:max_chars]
        warnings.append(f"The question was longer than {max_chars:,} characters and was cut.")
    return text, warnings


class Answerer:
    """Answers questions from the index; one per process, safe to share between threads.

    Retrieval finds passages; the reader finds the short answer in the best of them, and whether
    there is one. Without a reader (`FACTDESK_READER=none`) a cheap pre-rank (sentence cosine,
    shared rare words, answer-type cue) picks the sentence to quote, when its cosine reaches
    BASELINE_COSINE; with one, the pre-rank only orders the related passages of a decline.
    """

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        retriever: Retriever,
        reader: Reader | None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.retriever = retriever
        self.reader = reader
        self.min_confidence = (
            settings.min_confidence
            if settings.min_confidence is not None
            else (reader.threshold if reader else BASELINE_COSINE)
        )

    def answer(self, query: Query, top_k: int | None = None) -> Answer:
        """The short answer and the sentence that holds it, or a decline with what is related.

        `query` (conversation.build_query) holds the cleaned question and, for a follow-up,
        what to retrieve and read; the answer reports the question as asked.
        """
        answer = self._answer(query, top_k or self.settings.top_k)
        if query.standalone != query.question:
            answer = replace(answer, standalone=query.standalone)
        if self.reader is not None and not self.reader.fits(query.standalone):
            cut = (
                f"The question is longer than the reader reads: it read its first "
                f"{self.reader.max_question_tokens} word pieces."
            )
            answer = replace(answer, warnings=[*answer.warnings, cut])
        return replace(answer, reader=self.reader.version if self.reader else None)

    def check_store(self) -> None:
        """Raises StoreUnavailableError when the index cannot be reached now."""
        self.retriever.store.generation()

    def _vectors(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        """Two embeddings: for retrieval, the standalone question's plus the earlier turns' at
        their lower weights (normalised); for judging sentences, the standalone question's
        alone, so that a sentence close to the earlier turns is not taken for an answer."""
        if not query.context:
            vector = self.embedder.embed_one(query.standalone)
            return vector, vector
        texts = [query.standalone, *(text for text, _ in query.context)]
        weights = np.array([1.0, *(weight for _, weight in query.context)], dtype=np.float32)
        embedded = self.embedder.embed(texts, batch_size=len(texts))
        combined = weights @ embedded
        return combined / (np.linalg.norm(combined) or 1.0), embedded[0]

    def passages(self, query: Query, n: int) -> list[Hit]:
        """The `n` passages retrieval finds for `query`, best first, with no answer read from
        them (what a search returns)."""
        search_vector, _ = self._vectors(query)
        return self._retrieve(query, search_vector, n)

    def spans(self, query: Query) -> list[tuple[Hit, Span]]:
        """The spans the reader finds in the passages it reads for `query`, each with its
        passage: what the answer is chosen from (and what its calibration is fitted on)."""
        search_vector, _ = self._vectors(query)
        return self._read(query, self._retrieve(query, search_vector, READ_PASSAGES))

    def _retrieve(self, query: Query, search_vector: np.ndarray, n: int) -> list[Hit]:
        return self.retriever.retrieve(query.search, search_vector, n)

    def _read(self, query: Query, hits: list[Hit]) -> list[tuple[Hit, Span]]:
        assert self.reader is not None
        passages = hits[:SPAN_PASSAGES]
        spans = self.reader.read(query.standalone, [hit.chunk.text for hit in passages])
        return [(passages[span.passage], span) for span in spans if span is not None]

    def _answer(self, query: Query, top_k: int) -> Answer:
        question = query.question
        search_vector, vector = self._vectors(query)
        hits = self._retrieve(query, search_vector, max(top_k, READ_PASSAGES))
        ranked = self._rank_sentences(query.asked, vector, hits)
        if self.reader is not None:
            return self._extract(query, ranked, hits, top_k)
        candidates = self._confirm(vector, ranked, hits[:top_k])
        if not candidates:
            return Answer(question, False, NOT_FOUND)
        best = max(candidates, key=lambda c: c.probability)
        confidence = round(best.probability, 4)
        if best.probability < self.min_confidence:
            return _decline(question, candidates, hits[:top_k], confidence)
        best = _preferred([c for c in candidates if c.read], query)
        chosen = _choose(best, candidates, self.min_confidence)
        return _compose(question, chosen, candidates, hits[:top_k], confidence)

    def _extract(
        self, query: Query, ranked: list[_Sentence], hits: list[Hit], top_k: int
    ) -> Answer:
        """The reader's short answer from the best passages, with the sentence that holds it;
        declined when no span beats "no answer" by enough."""
        assert self.reader is not None
        question = query.question
        found = [
            _Found(hit, span, self.reader.confidence(span.margin, hit.dense or 0.0))
            for hit, span in self._read(query, hits)
        ]
        unread = [replace(s, read=False) for s in ranked[:PRE_RANK]]
        if not found:
            return _decline(question, unread, hits[:top_k], 0.0)
        best = max(found, key=lambda f: f.confidence)
        confidence = round(best.confidence, 4)
        if best.confidence < self.min_confidence:
            return _decline(question, unread, hits[:top_k], confidence)
        accepted = [f for f in found if f.confidence >= self.min_confidence]
        best = max(accepted, key=lambda f: f.confidence * f.hit.recency * query.weight(f.quote))
        citations = [best.citation(1)]
        for other in sorted(accepted, key=lambda f: -f.confidence):
            citation = other.citation(len(citations) + 1)
            # Passages overlap: a sentence two of them hold is cited once.
            if len(citations) < top_k and not any(_overlap(c, citation) for c in citations):
                citations.append(citation)
        short = best.short_answer
        text = f"{short.text}: “{citations[0].quote}” [1]"
        return Answer(question, True, text, citations, confidence=confidence, short_answer=short)

    def _confirm(
        self, vector: np.ndarray, ranked: list[_Sentence], cited: list[Hit]
    ) -> list[_Sentence]:
        """Without a reader: the pre-rank's best sentences and the best of every passage that
        may be cited, the first few with their cosine read alone (close calls only), the
        others unread."""
        keep = ranked[:PRE_RANK]
        for hit in cited:
            best = next((s for s in ranked if s.hit.chunk.id == hit.chunk.id), None)
            if best is not None and best not in keep:
                keep.append(best)
        read, unread = keep[:CONFIRM], [replace(s, read=False) for s in keep[CONFIRM:]]
        return self._confirmed(vector, read) + unread

    def _confirmed(self, vector: np.ndarray, read: list[_Sentence]) -> list[_Sentence]:
        """The sentences with their cosine to the question, read alone unless in context one is
        clearly above the threshold."""
        cosines = [s.cosine for s in read]
        if max(cosines, default=0.0) < self.min_confidence + CONFIRM_MARGIN:
            cosines = [float(c) for c in self.embedder.embed([_text(s) for s in read]) @ vector]
        return [replace(s, cosine=c, probability=c) for s, c in zip(read, cosines, strict=True)]

    def _rank_sentences(
        self, question: str, vector: np.ndarray, hits: list[Hit]
    ) -> list[_Sentence]:
        """Score every sentence of the retrieved passages against the question, best first."""
        question_terms = set(terms(question))
        keyword_index = self.retriever.keyword_index
        weights = {term: keyword_index.idf(term) or 1.0 for term in question_terms}
        total_weight = sum(weights.values())

        def share(found: set[str]) -> float:
            return sum(weights[t] for t in found) / total_weight if total_weight else 0.0

        seen: set[tuple[str, int]] = set()
        ranked = []
        for hit in hits:
            chunk = hit.chunk
            texts = [chunk.text[start:end] for start, end in chunk.sentences]
            shared = [question_terms.intersection(terms(text)) for text in texts]
            for index, (relative_start, _) in enumerate(chunk.sentences):
                start = chunk.start + relative_start
                if (chunk.doc_id, start) in seen:
                    continue
                seen.add((chunk.doc_id, start))
                with_previous = shared[index] | (shared[index - 1] if index else set())
                cosine = float(np.dot(vector, chunk.sentence_vectors[index]))
                score = (
                    cosine
                    + OVERLAP_WEIGHT * share(shared[index])
                    + WITH_PREVIOUS_WEIGHT * share(with_previous)
                    + ANSWER_TYPE_BONUS * holds_new_answer(question, texts[index])
                )
                ranked.append(_Sentence(hit, start, start + len(texts[index]), cosine, score))
        ranked.sort(key=lambda s: -s.score)
        return ranked


def _preferred(eligible: list[_Sentence], query: Query) -> _Sentence:
    """Among the sentences the answer may quote, the one the pre-rank wants most: a newer
    article's on a current-state question (`hit.recency` is 1 on all others), and in a
    conversation what was not quoted yet. Whether to answer at all was decided before, by the
    cosine read alone."""
    return max(eligible, key=lambda c: c.score * c.hit.recency * query.weight(_text(c)))


def _text(sentence: _Sentence) -> str:
    return sentence.hit.chunk.excerpt(sentence.start, sentence.end)


def _choose(best: _Sentence, candidates: list[_Sentence], threshold: float) -> list[_Sentence]:
    """The best sentence, and its neighbour when its cosine read alone passes the threshold too
    (the figure in one sentence, who said it in the next)."""
    neighbours = [
        s
        for s in candidates
        if s is not best and s.probability >= threshold and _adjacent([best], s)
    ]
    if neighbours:
        return [best, max(neighbours, key=lambda s: s.probability)]
    return [best]


def _compose(
    question: str,
    chosen: list[_Sentence],
    candidates: list[_Sentence],
    hits: list[Hit],
    confidence: float,
) -> Answer:
    """Quote the chosen sentences with a marker, then cite the other passages by their best line."""
    first = _citation(1, sorted(chosen, key=lambda s: s.start))
    citations = [first, *_other_citations(candidates, hits, {chosen[0].hit.chunk.id})]
    answer = f"{first.quote} [1]"
    return Answer(question, True, answer, citations, confidence=confidence)


def _decline(
    question: str,
    candidates: list[_Sentence],
    hits: list[Hit],
    confidence: float,
) -> Answer:
    """Say plainly that the articles do not hold the answer; list on-topic passages, if any,
    as related reading rather than as an answer."""
    related = [c for c in candidates if c.cosine >= RELATED_COSINE]
    by_score = sorted(_other_citations(related, hits, set()), key=lambda c: -c.score)
    citations = [replace(c, n=n) for n, c in enumerate(by_score, 1)]
    text = f"{NOT_FOUND} Related passages:" if citations else NOT_FOUND
    return Answer(question, False, text, citations, confidence=confidence)


def _other_citations(candidates: list[_Sentence], hits: list[Hit], cited: set[str]) -> list:
    """One citation per retrieved passage not cited yet, by its most likely sentence."""
    citations: list[Citation] = []
    first_number = len(cited) + 1
    for hit in hits:
        if len(cited) + len(citations) >= len(hits) or hit.chunk.id in cited:
            continue
        own = [c for c in candidates if c.hit.chunk.id == hit.chunk.id]
        if own:
            best = max(own, key=lambda c: (c.probability, c.score))
            citations.append(_citation(first_number + len(citations), [best]))
    return citations


def _overlap(a: Citation, b: Citation) -> bool:
    """Whether two citations quote some of the same characters of one article."""
    return a.source == b.source and a.start < b.end and b.start < a.end


def _adjacent(group: list[_Sentence], sentence: _Sentence) -> bool:
    """Whether `sentence` directly precedes or follows the group, in the same passage."""
    chunk = group[0].hit.chunk
    if sentence.hit.chunk.id != chunk.id:
        return False
    left, right = (group[-1], sentence) if sentence.start >= group[-1].end else (sentence, group[0])
    gap = chunk.excerpt(left.end, right.start)
    return right.start >= left.end and not gap.strip()


def _citation(n: int, group: list[_Sentence]) -> Citation:
    score = max(s.probability if s.read else s.cosine for s in group)
    return _cite(n, group[0].hit.chunk, group[0].start, group[-1].end, score)


def _cite(n: int, chunk: Chunk, start: int, end: int, score: float) -> Citation:
    """Citation `n`: the text between two offsets into the article, within `chunk`."""
    return Citation(
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
