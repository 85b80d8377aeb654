"""Extractive answers: the retrieved sentences that best answer a question, with citations.

No language model is involved. The answer quotes, verbatim, the sentence or two from the retrieved
passages that best match the question, each followed by its citation marker; when nothing in the
index is relevant enough it says so instead of quoting something unrelated.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from factdesk.chunks import Chunk
from factdesk.config import Settings
from factdesk.embeddings import Embedder
from factdesk.errors import QuestionError
from factdesk.indexer import Indexer
from factdesk.keyword import terms
from factdesk.retrieval import Hit, Retriever
from factdesk.sentences import split_sentences
from factdesk.store import Store

NOT_FOUND = "I couldn't find that in the indexed articles."

# How sentences are ranked for the answer: cosine similarity to the question, plus a share of the
# question's (IDF-weighted) words found in the sentence, plus the passage's retrieval score.
OVERLAP_WEIGHT = 0.3
PASSAGE_WEIGHT = 0.1
# A second sentence joins the answer when it scores within this margin of the best one.
SECOND_SENTENCE_MARGIN = 0.05
# Sentences holding the kind of thing a question asks for (a number for "how many", a date for
# "when", a name for "who") get this bonus: the classic answer-type cue of extractive QA.
ANSWER_TYPE_BONUS = 0.1
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_ANSWER_TYPES = [
    (
        re.compile(r"\bhow (many|much)\b|\bwhat (number|amount|percentage)\b", re.I),
        re.compile(
            r"\d|\b(dozens?|hundreds?|thousands?|millions?|billions?|few|several|half)\b", re.I
        ),
    ),
    (
        re.compile(r"\bwhen\b|\bwhat (year|day|month|date|time)\b|\bhow long\b", re.I),
        re.compile(
            rf"\b(1[89]|20)\d\d\b|\b({_MONTHS}|{_DAYS}|spring|summer|autumn|winter|year|month"
            r"|week|ago|since|until)\b",
            re.I,
        ),
    ),
    (
        re.compile(r"\bwho(m|se)?\b|\bname\b|\bnamed\b", re.I),
        re.compile(r"\b[A-Z][a-z]+ [A-Z][a-z]+\b"),
    ),
]

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


@dataclass(frozen=True)
class Answer:
    """What factdesk says to a question, in the shape every front end renders."""

    question: str
    answered: bool
    answer: str
    citations: list[Citation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The documented JSON shape of `factdesk ask --json` (warnings go to stderr, not here)."""
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.answer,
            "citations": [asdict(citation) for citation in self.citations],
        }


@dataclass(frozen=True)
class _Sentence:
    """A candidate sentence for the answer, with the passage (hit) it was found in."""

    hit: Hit
    start: int
    end: int
    cosine: float
    score: float


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
    """Answers questions from the index; one per process, safe to share between threads."""

    def __init__(self, settings: Settings, embedder: Embedder, retriever: Retriever) -> None:
        self.settings = settings
        self.embedder = embedder
        self.retriever = retriever
        self._sentences = functools.lru_cache(maxsize=4096)(self._embed_sentences)

    def answer(self, question: str, top_k: int | None = None) -> Answer:
        """Quote the best-matching sentences of the best passages, or decline plainly."""
        text, warnings = clean_question(question, self.settings.max_question_chars)
        vector = self.embedder.embed_one(text)
        hits = self.retriever.retrieve(text, vector, top_k or self.settings.top_k)
        candidates = self._rank_sentences(text, vector, hits)
        if not candidates or max(c.cosine for c in candidates) < self.settings.min_relevance:
            return Answer(text, False, NOT_FOUND, [], warnings)
        chosen = _choose(candidates)
        return _compose(text, chosen, candidates, hits, warnings)

    def _rank_sentences(
        self, question: str, vector: np.ndarray, hits: list[Hit]
    ) -> list[_Sentence]:
        """Score every sentence of the retrieved passages against the question, best first."""
        question_terms = set(terms(question))
        keyword_index = self.retriever.keyword_index
        weights = {term: keyword_index.idf(term) or 1.0 for term in question_terms}
        total_weight = sum(weights.values())
        seen: set[tuple[str, int]] = set()
        ranked = []
        for hit in hits:
            spans, vectors = self._sentences(hit.chunk)
            for (start, end), sentence_vector in zip(spans, vectors, strict=True):
                if (hit.chunk.doc_id, start) in seen:
                    continue
                seen.add((hit.chunk.doc_id, start))
                sentence = hit.chunk.excerpt(start, end)
                shared = question_terms.intersection(terms(sentence))
                overlap = sum(weights[t] for t in shared) / total_weight if total_weight else 0.0
                cosine = float(np.dot(vector, sentence_vector))
                score = (
                    cosine
                    + OVERLAP_WEIGHT * overlap
                    + PASSAGE_WEIGHT * hit.score
                    + ANSWER_TYPE_BONUS * _fits_answer_type(question, sentence)
                )
                ranked.append(_Sentence(hit, start, end, cosine, score))
        ranked.sort(key=lambda s: -s.score)
        return ranked

    def _embed_sentences(self, chunk: Chunk) -> tuple[list[tuple[int, int]], np.ndarray]:
        spans = [(chunk.start + s, chunk.start + e) for s, e in split_sentences(chunk.text)]
        texts = [chunk.excerpt(s, e) for s, e in spans]
        return spans, self.embedder.embed(texts, batch_size=32)


def _fits_answer_type(question: str, sentence: str) -> bool:
    return any(
        asks.search(question) and answers.search(sentence) for asks, answers in _ANSWER_TYPES
    )


def _choose(candidates: list[_Sentence]) -> list[_Sentence]:
    """The best sentence, and the runner-up when it scores nearly as well (say, the next line)."""
    best, *others = candidates
    if others and others[0].score >= best.score - SECOND_SENTENCE_MARGIN:
        return [best, others[0]]
    return [best]


def _compose(
    question: str,
    chosen: list[_Sentence],
    candidates: list[_Sentence],
    hits: list[Hit],
    warnings: list[str],
) -> Answer:
    """Quote the chosen sentences with markers, then cite the other passages by their best line."""
    citations: list[Citation] = []
    parts: list[str] = []
    for group in _adjacent_groups(chosen)[: len(hits)]:
        citation = _citation(len(citations) + 1, group)
        citations.append(citation)
        parts.append(f"{citation.quote} [{citation.n}]")
    cited = {s.hit.chunk.id for s in chosen}
    for hit in hits:
        if len(citations) >= len(hits):
            break  # two quotes from one passage already took a place: never cite more than top_k
        if hit.chunk.id in cited:
            continue
        best = next((c for c in candidates if c.hit.chunk.id == hit.chunk.id), None)
        if best is not None:
            citations.append(_citation(len(citations) + 1, [best]))
            cited.add(hit.chunk.id)
    return Answer(question, True, " ".join(parts), citations, warnings)


def _adjacent_groups(sentences: list[_Sentence]) -> list[list[_Sentence]]:
    """Sentences that follow each other in the same passage are quoted (and cited) together."""
    groups: list[list[_Sentence]] = []
    for sentence in sentences:
        group = next((g for g in groups if _adjacent(g, sentence)), None)
        if group is None:
            groups.append([sentence])
        else:
            group.append(sentence)
            group.sort(key=lambda s: s.start)
    return groups


def _adjacent(group: list[_Sentence], sentence: _Sentence) -> bool:
    chunk = group[0].hit.chunk
    if sentence.hit.chunk.id != chunk.id:
        return False
    left, right = (group[-1], sentence) if sentence.start >= group[-1].end else (sentence, group[0])
    gap = chunk.excerpt(left.end, right.start)
    return right.start >= left.end and not gap.strip()


def _citation(n: int, group: list[_Sentence]) -> Citation:
    chunk = group[0].hit.chunk
    start, end = group[0].start, group[-1].end
    return Citation(
        n=n,
        quote=chunk.excerpt(start, end),
        passage=chunk.text,
        source=chunk.source,
        title=chunk.title,
        url=chunk.url,
        start=start,
        end=end,
        score=round(max(s.cosine for s in group), 4),
    )


def load_answerer(
    settings: Settings,
    notify: Callable[[str], None] | None = None,
    embedder: Embedder | None = None,
) -> Answerer:
    """Load the model and open the index once; an empty or missing index is built from seeds/.

    `notify` receives progress messages meant for a person (the CLI prints them on stderr).
    Pass an already loaded `embedder` to share one model between several answerers.
    """
    embedder = embedder or Embedder(settings.model_path, settings.threads)
    indexer = Indexer(settings, embedder)
    store = Store(settings, indexer.fingerprint)
    if not store.exists() or store.count() == 0:
        if notify:
            notify(f"The index is empty; indexing {settings.seeds_dir}/ first.")
        report = indexer.index_paths([Path(settings.seeds_dir)])
        if notify:
            notify(report.summary())
    store.check_compatible()
    retriever = Retriever(store, settings)
    return Answerer(settings, embedder, retriever)
