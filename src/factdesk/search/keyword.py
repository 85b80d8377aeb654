"""BM25 keyword search over the passages (Lucene's variant, built with bm25s), with English
stemming and stop words, saved on disk and memory-mapped when loaded.

The index is built once per collection generation (after every index run that changed
something) and kept beside the embedded store, or in the cache folder for a Chroma server, so a
process starts in the same time whatever the size of the corpus: loading maps the score matrix
instead of reading every passage back from Chroma. Only building needs bm25s (and through it
SciPy, a quarter of a second to import): a question reads the saved matrix with NumPy alone.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
IDS_FILE = "ids.json"
# bm25s's own file names, so that an index saved by bm25s loads here and the other way round.
_ARRAYS = ("data", "indices", "indptr")
_VOCAB_FILE = "vocab.index.json"
_PARAMS_FILE = "params.index.json"
# Generations kept on disk: the newest, and the one a running process may still have mapped.
KEEP_GENERATIONS = 2


@functools.cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.cache
def _stopwords() -> frozenset[str]:
    """NLTK's 198 English stop words, as bm25s ships them (less contractions that \\w+ splits),
    read from its stopwords module alone: importing the bm25s package imports SciPy."""
    package = importlib.util.find_spec("bm25s")
    assert package is not None and package.origin is not None, "bm25s is a dependency"
    spec = importlib.util.spec_from_file_location(
        "factdesk_bm25s_stopwords", Path(package.origin).with_name("stopwords.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return frozenset(module.STOPWORDS_EN_PLUS)


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed words of `text`, without English stop words."""
    stop = _stopwords()
    words = [word for word in _WORD.findall(text.lower()) if word not in stop]
    return _stemmer().stemWords(words)


@dataclass(frozen=True)
class _Scores:
    """BM25's precomputed scores: a sparse matrix, one column per term (compressed sparse
    columns: the rows and scores of term t lie between indptr[t] and indptr[t + 1])."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    vocab: dict[str, int]
    params: dict


class KeywordIndex:
    """BM25 over a fixed list of passages; search returns (passage id, score), best first."""

    def __init__(self, scores: _Scores | None, ids: list[str]) -> None:
        self._scores = scores
        self.ids = ids

    @property
    def size(self) -> int:
        return len(self.ids)

    @classmethod
    def build(
        cls, ids: Sequence[str], texts: Sequence[str], k1: float = 0.9, b: float = 0.4
    ) -> KeywordIndex:
        if not texts:
            return cls(None, list(ids))
        import bm25s

        model = bm25s.BM25(k1=k1, b=b, method="lucene")
        model.index([terms(text) or [""] for text in texts], show_progress=False)
        params = {
            "k1": k1,
            "b": b,
            "method": "lucene",
            "idf_method": "lucene",
            "dtype": str(np.dtype(model.dtype)),
            "int_dtype": str(np.dtype(model.int_dtype)),
            "num_docs": int(model.scores["num_docs"]),
            "version": bm25s.__version__,
            "backend": "numpy",
        }
        data, indices, indptr = (np.asarray(model.scores[name]) for name in _ARRAYS)
        return cls(_Scores(data, indices, indptr, dict(model.vocab_dict), params), list(ids))

    def save(self, folder: Path) -> None:
        """Write the index to `folder` atomically: written aside, then renamed into place."""
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        if self._scores is not None:
            for name in _ARRAYS:
                np.save(partial / f"{name}.csc.index.npy", getattr(self._scores, name))
            (partial / _VOCAB_FILE).write_text(json.dumps(self._scores.vocab))
            (partial / _PARAMS_FILE).write_text(json.dumps(self._scores.params, indent=4))
        (partial / IDS_FILE).write_text(json.dumps(self.ids))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        """Map a saved index; its score matrix stays on disk until a query reads it."""
        ids = json.loads((folder / IDS_FILE).read_text())
        if not ids:
            return cls(None, [])
        data, indices, indptr = (
            np.load(folder / f"{name}.csc.index.npy", mmap_mode="r") for name in _ARRAYS
        )
        vocab = json.loads((folder / _VOCAB_FILE).read_text())
        params = json.loads((folder / _PARAMS_FILE).read_text())
        return cls(_Scores(data, indices, indptr, vocab, params), ids)

    def search(self, query: str, n: int) -> list[tuple[str, float]]:
        if self._scores is None or n <= 0:
            return []
        # Each word once, however often the query repeats it (as a set of terms, like the
        # hand-written BM25 before bm25s; see benchmarks/README.md).
        vocab = self._scores.vocab
        wanted = [vocab[term] for term in dict.fromkeys(terms(query)) if term in vocab]
        if not wanted:
            return []
        scores = self._scores_of(wanted)
        n = min(n, len(scores))
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in best if scores[i] > 0]

    def _scores_of(self, columns: list[int]) -> np.ndarray:
        """Each passage's BM25 score for these terms: their columns summed, in this order (as
        bm25s sums them, so the figures are the same to the last bit)."""
        found = self._scores
        assert found is not None
        scores = np.zeros(int(found.params["num_docs"]), dtype=found.params["dtype"])
        for column in columns:
            start, end = int(found.indptr[column]), int(found.indptr[column + 1])
            np.add.at(scores, found.indices[start:end], found.data[start:end])
        return scores

    def max_idf(self) -> float:
        """The inverse document frequency of a term no passage holds (Lucene's, for 0)."""
        return math.log(1 + (self.size + 0.5) / 0.5)

    def idf(self, term: str) -> float:
        """Lucene's inverse document frequency of a (stemmed) term; 0 for unseen terms."""
        if self._scores is None or term not in self._scores.vocab:
            return 0.0
        column = self._scores.vocab[term]
        indptr = self._scores.indptr
        frequency = int(indptr[column + 1] - indptr[column])
        return math.log(1 + (self.size - frequency + 0.5) / (frequency + 0.5))


def generation_folder(root: Path, generation: int, k1: float = 0.9, b: float = 0.4) -> Path:
    """Where one generation's index is saved; BM25's parameters are baked into the scores."""
    return root / f"generation-{generation}-k1-{k1:g}-b-{b:g}"


def prune_generations(root: Path, keep: int = KEEP_GENERATIONS) -> None:
    """Remove all but the newest saved generations."""
    if not root.exists():
        return
    saved = sorted(
        (p for p in root.iterdir() if p.name.startswith("generation-") and p.is_dir()),
        key=lambda p: p.stat().st_mtime,
    )
    for old in saved[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
