"""BM25 keyword search over the passages, with English stemming and stop words.

Kept in memory and rebuilt from the Chroma collection itself, so it is always in step with the
vectors, whether Chroma is embedded or a server. Scoring is Lucene's BM25 (as in Anserini), done
with a sparse matrix so a query costs microseconds per matching term.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np
from scipy import sparse

_WORD = re.compile(r"\w+", re.UNICODE)


@functools.cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.cache
def _stopwords() -> frozenset[str]:
    from llama_index.core.utils import globals_helper

    return frozenset(globals_helper.stopwords)


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed words of `text`, without English stop words."""
    stop = _stopwords()
    words = [word for word in _WORD.findall(text.lower()) if word not in stop]
    return _stemmer().stemWords(words)


class KeywordIndex:
    """BM25 over a fixed list of texts; search returns (position, score) pairs, best first."""

    def __init__(self, texts: Sequence[str], k1: float = 0.9, b: float = 0.4) -> None:
        self.size = len(texts)
        self._vocabulary: dict[str, int] = {}
        rows, cols, counts = [], [], []
        lengths = np.zeros(self.size, dtype=np.float32)
        for row, text in enumerate(texts):
            words = terms(text)
            lengths[row] = len(words)
            for word, count in _counts(words).items():
                rows.append(row)
                cols.append(self._vocabulary.setdefault(word, len(self._vocabulary)))
                counts.append(count)
        self._weights = _bm25_weights(rows, cols, counts, lengths, len(self._vocabulary), k1, b)

    def search(self, query: str, n: int) -> list[tuple[int, float]]:
        columns = sorted({self._vocabulary[t] for t in terms(query) if t in self._vocabulary})
        if not columns or n <= 0:
            return []
        scores = np.asarray(self._weights[:, columns].sum(axis=1)).ravel()
        matching = np.flatnonzero(scores > 0)
        if len(matching) > n:
            matching = matching[np.argpartition(-scores[matching], n - 1)[:n]]
        best = matching[np.argsort(-scores[matching], kind="stable")]
        return [(int(i), float(scores[i])) for i in best]

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term (0 when unseen): how telling a word is."""
        column = self._vocabulary.get(term)
        if column is None:
            return 0.0
        df = self._weights[:, column].nnz
        return float(np.log(1 + (self.size - df + 0.5) / (df + 0.5)))


def _counts(words: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return counts


def _bm25_weights(rows, cols, counts, lengths, vocabulary_size, k1, b) -> sparse.csc_matrix:
    """Each (passage, term) cell holds that term's full BM25 contribution for the passage."""
    size = len(lengths)
    shape = (size, vocabulary_size)
    tf = sparse.csr_matrix((np.asarray(counts, dtype=np.float32), (rows, cols)), shape=shape)
    if size == 0 or vocabulary_size == 0:
        return tf.tocsc()
    df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=vocabulary_size)
    idf = np.log(1 + (size - df + 0.5) / (df + 0.5)).astype(np.float32)
    average = float(lengths.mean()) or 1.0
    norm = k1 * (1 - b + b * lengths / average)
    coo = tf.tocoo()
    values = coo.data * (k1 + 1) / (coo.data + norm[coo.row]) * idf[coo.col]
    return sparse.csc_matrix((values, (coo.row, coo.col)), shape=shape)
