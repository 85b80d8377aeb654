"""Hybrid retrieval: dense (MiniLM cosine in Chroma) and keyword (BM25), fused by weighted sum.

Each side's scores are min-max normalised over its own candidates, then combined as
`dense_weight * dense + (1 - dense_weight) * keyword`; a passage missing from one side scores 0
there. On BEIR SciFact this beats either side alone and reciprocal-rank fusion (see
benchmarks/README.md for the measurements behind the defaults).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from factdesk.chunks import Chunk
from factdesk.config import Settings
from factdesk.keyword import KeywordIndex, generation_folder, prune_generations
from factdesk.store import Store

MODES = ("hybrid", "dense", "keyword")


@dataclass(frozen=True)
class Hit:
    """A retrieved passage, its fused score in [0, 1] and each side's raw score, if it had one."""

    chunk: Chunk
    score: float
    dense: float | None
    keyword: float | None


def normalise(scores: Mapping[str, float]) -> dict[str, float]:
    """Min-max to [0, 1]; a lone candidate (or all equal) scores 1."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low < 1e-9:
        return dict.fromkeys(scores, 1.0)
    return {key: (value - low) / (high - low) for key, value in scores.items()}


def fuse(
    dense: Mapping[str, float], keyword: Mapping[str, float], dense_weight: float
) -> dict[str, float]:
    """Weighted sum of normalised scores over the union of both candidate lists."""
    dense_norm, keyword_norm = normalise(dense), normalise(keyword)
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
        best = sorted(fused, key=lambda key: (-fused[key], key))[:n]
        chunks.update((c.id, c) for c in self.store.get([k for k in best if k not in chunks]))
        return [
            Hit(chunks[key], fused[key], dense.get(key), keyword.get(key))
            for key in best
            if key in chunks
        ]
