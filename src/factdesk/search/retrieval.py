"""Hybrid retrieval: dense (MiniLM cosine in Chroma) and keyword (BM25), fused by weighted sum.

Each side's scores are min-max normalised over its own candidates, then combined as
`dense_weight * dense + (1 - dense_weight) * keyword`; a passage missing from one side scores 0
there. Several candidates that all tie on one side (copies of one passage, say) score the middle
of its scale, 0.5: found, but not the best of it, so that they cannot outrank the best candidate
of the other side by their number alone. On BEIR SciFact this beats either side alone and
reciprocal-rank fusion (see benchmarks/README.md for the measurements behind the defaults).

Recency: news goes stale. On a question about the current state ("how many remain now?", "the
latest figure") two articles may both answer, with different figures, and the newer one is right.
For such questions only, a dated passage older than the newest dated candidate loses part of its
fused score (`recency_weight` at most, half of it per `recency_half_life_days` of age). Other
questions, undated passages and candidates that all share one date are left exactly as they were.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np

from factdesk.config import Settings
from factdesk.search.keyword import KeywordIndex, generation_folder, prune_generations
from factdesk.search.passages import Chunk
from factdesk.search.store import Store

MODES = ("hybrid", "dense", "keyword")

# Words that ask about the state of things now rather than at some point in the past.
_CURRENT_STATE = re.compile(
    r"\b(now|nowadays|currently|current|latest|newest|most recent|recently|still|remains?|"
    r"remaining|today|so far|to date|as of|at present|presently|anymore|any more|these days|"
    r"up to date)\b",
    re.I,
)


@dataclass(frozen=True)
class Hit:
    """A retrieved passage, its fused score in [0, 1] and each side's raw score, if it had one.

    `recency` is the factor its score was multiplied by for its age (1 when age did not count),
    so the answer can prefer the newer of two sentences that both answer.
    """

    chunk: Chunk
    score: float
    dense: float | None
    keyword: float | None
    recency: float = 1.0


def min_max(scores: Mapping[str, float]) -> dict[str, float]:
    """Min-max to [0, 1]; a lone candidate scores 1, several that all tie 0.5 (the side does not
    tell them apart: none of them is its best)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low < 1e-9:
        return dict.fromkeys(scores, 1.0 if len(scores) == 1 else 0.5)
    return {key: (value - low) / (high - low) for key, value in scores.items()}


def fuse(
    dense: Mapping[str, float], keyword: Mapping[str, float], dense_weight: float
) -> dict[str, float]:
    """Weighted sum of normalised scores over the union of both candidate lists."""
    dense_norm, keyword_norm = min_max(dense), min_max(keyword)
    return {
        key: dense_weight * dense_norm.get(key, 0.0)
        + (1 - dense_weight) * keyword_norm.get(key, 0.0)
        for key in dense_norm.keys() | keyword_norm.keys()
    }


def keyword_index(store: Store, settings: Settings) -> KeywordIndex:
    """The collection's keyword index for its current generation: mapped from disk when saved,
    else built from the passages once and saved for every later process."""
    from filelock import FileLock

    root = store.keyword_root
    folder = generation_folder(root, store.generation(), settings.bm25_k1, settings.bm25_b)
    if not folder.exists():
        root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(root / ".lock")):
            if not folder.exists():
                chunks = store.chunks()
                KeywordIndex.build(
                    [c.id for c in chunks],
                    [c.embedding_text for c in chunks],
                    k1=settings.bm25_k1,
                    b=settings.bm25_b,
                ).save(folder)
                prune_generations(root)
    return KeywordIndex.load(folder)


def asks_about_now(question: str) -> bool:
    """Whether the question is about the current state, where a newer article beats an older."""
    return bool(_CURRENT_STATE.search(question))


def recency_factors(
    published: Mapping[str, str | None], half_life_days: float, weight: float
) -> dict[str, float]:
    """Each passage's score multiplier for its age relative to the newest dated passage.

    Age is measured from the newest candidate, not from today, so an archive does not fade as a
    whole and the same index answers the same way next year. Undated passages count as new.
    """
    dates = {key: date.fromisoformat(value) for key, value in published.items() if value}
    if weight <= 0 or len(set(dates.values())) < 2:
        return dict.fromkeys(published, 1.0)
    newest = max(dates.values())
    return {
        key: 1.0 - weight * (1.0 - 0.5 ** ((newest - dates[key]).days / half_life_days))
        if key in dates
        else 1.0
        for key in published
    }


class Retriever:
    """Finds the passages most likely to answer a question, from both sides of the index.

    The keyword side is the saved index of the collection's current generation, so a
    long-running bot picks up new articles as soon as an index run bumps the generation.
    """

    def __init__(self, store: Store, settings: Settings, mode: str = "hybrid") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.store = store
        self.settings = settings
        self.candidates = settings.candidates
        self.dense_weight = settings.dense_weight
        self.mode = mode
        self._recency = (settings.recency_half_life_days, settings.recency_weight)
        self._lock = threading.Lock()
        self._generation: int | None = None
        self.keyword_index = KeywordIndex(None, [])
        self.refresh()

    @property
    def size(self) -> int:
        return self.keyword_index.size

    def refresh(self) -> None:
        """Load the keyword side again if the collection changed since it was loaded."""
        generation = self.store.generation()
        if generation == self._generation:
            return
        with self._lock:
            if generation != self._generation:
                self.keyword_index = keyword_index(self.store, self.settings)
                self._generation = generation

    def retrieve(self, question: str, vector: np.ndarray, n: int) -> list[Hit]:
        """The `n` best passages for a question whose embedding is `vector`."""
        self.refresh()
        pool = max(n, self.candidates)
        dense, chunks = {}, {}
        if self.mode != "keyword":
            for chunk, cosine in self.store.query(vector, pool):
                dense[chunk.id] = cosine
                chunks[chunk.id] = chunk
        keyword = {}
        if self.mode != "dense":
            keyword = dict(self.keyword_index.search(question, pool))
        weight = {"hybrid": self.dense_weight, "dense": 1.0, "keyword": 0.0}[self.mode]
        fused = fuse(dense, keyword, weight)
        factors = self._age_factors(question, fused, chunks)
        fused = {key: score * factors.get(key, 1.0) for key, score in fused.items()}
        # Equal fused scores are ordered by the raw scores, not by id, which favours no passage
        # for its name.
        best = sorted(
            fused,
            key=lambda key: (-fused[key], -dense.get(key, -1.0), -keyword.get(key, 0.0), key),
        )[:n]
        self._fetch([key for key in best if key not in chunks], chunks)
        return [
            Hit(chunks[key], fused[key], dense.get(key), keyword.get(key), factors.get(key, 1.0))
            for key in best
            if key in chunks
        ]

    def applies_recency(self, question: str) -> bool:
        """Whether age counts for this question; a subclass may decide otherwise (benchmarks
        measure what applying it to every question would cost)."""
        return asks_about_now(question)

    def _age_factors(
        self, question: str, fused: Mapping[str, float], chunks: dict[str, Chunk]
    ) -> dict[str, float]:
        """Score multipliers for age; keyword-only candidates are fetched only when it counts."""
        if not self.applies_recency(question):
            return {}
        self._fetch([key for key in fused if key not in chunks], chunks)
        half_life, weight = self._recency
        published = {key: chunks[key].published for key in fused if key in chunks}
        return recency_factors(published, half_life, weight)

    def _fetch(self, ids: list[str], chunks: dict[str, Chunk]) -> None:
        """Add the passages the dense side did not bring (keyword-only hits) from the store."""
        chunks.update((chunk.id, chunk) for chunk in self.store.get(ids))
