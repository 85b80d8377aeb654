"""Ranking metrics, computed the way BEIR does with pytrec_eval, so our figures compare with theirs.

Every function takes a ranking (ids, best first, each at most once) and graded relevance judgements
(`qrels`: id -> grade; a grade of 0 or less means not relevant), and scores one query.
Averaging over queries is the caller's business.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

Ranking = Sequence[Hashable]
Qrels = Mapping[Any, int]  # ids as the ranking has them (str, int...) -> grade


def rank(run: Mapping[Hashable, float]) -> list[Hashable]:
    """Order scored results as trec_eval does: higher score first, ties by id, highest id first.

    trec_eval ignores the order results arrive in, so ties must be broken the same way here or
    the same run scores differently in our code and in published tables.
    """
    return sorted(run, key=lambda key: (run[key], str(key)), reverse=True)


def ndcg_at_k(ranking: Ranking, qrels: Qrels, k: int) -> float:
    """Normalised discounted cumulative gain: linear gains, log2(rank + 1) discount.

    The ideal ordering is every judged document by grade, so relevant documents missing from the
    ranking cost as much as ones ranked too low. 0 when nothing is relevant.
    """
    gains = [max(qrels.get(key, 0), 0) for key in ranking[:k]]
    ideal = sorted((grade for grade in qrels.values() if grade > 0), reverse=True)[:k]
    best = _dcg(ideal)
    return _dcg(gains) / best if best > 0 else 0.0


def _dcg(gains: Sequence[float]) -> float:
    return sum(gain / math.log2(position + 2) for position, gain in enumerate(gains))


def recall_at_k(ranking: Ranking, qrels: Qrels, k: int) -> float:
    """Share of the relevant documents found in the first `k`; 0 when nothing is relevant."""
    relevant = {key for key, grade in qrels.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Ranking, qrels: Qrels, k: int) -> float:
    """Reciprocal rank of the first relevant result within the first `k`, else 0."""
    first = _first_relevant(ranking, qrels, k)
    return 1.0 / first if first else 0.0


def hit_at_k(ranking: Ranking, qrels: Qrels, k: int) -> float:
    """1 when any of the first `k` results is relevant, else 0 (a float, so it averages)."""
    return 1.0 if _first_relevant(ranking, qrels, k) else 0.0


def _first_relevant(ranking: Ranking, qrels: Qrels, k: int) -> int | None:
    return next(
        (position for position, key in enumerate(ranking[:k], 1) if qrels.get(key, 0) > 0), None
    )


def latency_figures(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """Median and 95th percentile, in milliseconds."""
    milliseconds = [s * 1000 for s in seconds]
    return {
        "latency_median_ms": round(statistics.median(milliseconds), 1),
        "latency_p95_ms": round(float(np.percentile(milliseconds, 95)), 1),
    }


def mean(values: Sequence[float | bool]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def calibration_bins(
    scored: Sequence[tuple[float, bool]], bins: int = 10
) -> list[tuple[float, float, int]]:
    """(mean confidence, share right, count) for each non-empty confidence bin of equal width."""
    rows = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [(c, r) for c, r in scored if low <= c < high or (b == bins - 1 and c == 1.0)]
        if inside:
            rows.append(
                (
                    statistics.fmean(c for c, _ in inside),
                    statistics.fmean(r for _, r in inside),
                    len(inside),
                )
            )
    return rows


def expected_calibration_error(scored: Sequence[tuple[float, bool]], bins: int = 10) -> float:
    """The count-weighted mean gap between confidence and the share right, over the bins."""
    total = len(scored)
    rows = calibration_bins(scored, bins)
    return sum(n / total * abs(c - r) for c, r, n in rows) if total else 0.0
