"""Choosing a decline threshold from outcomes answered with none (for the reader's training)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from factdesk.evaluation.squad import SquadOutcome


def best_threshold(outcomes: Sequence[SquadOutcome]) -> tuple[float, float]:
    """The confidence threshold that maximises correct decisions, answerable and unanswerable
    questions weighted equally, from outcomes answered with no threshold at all.

    Returns (threshold, balanced correct rate). Weighting the two kinds equally keeps the choice
    from depending on how many unanswerable questions a tuning set happens to hold.
    """
    answerable = [
        (o.answer.confidence, o.quotes_an_answer) for o in outcomes if o.question.answerable
    ]
    unanswerable = [o.answer.confidence for o in outcomes if not o.question.answerable]
    return balanced_threshold(answerable, unanswerable)


def balanced_threshold(
    answerable: Sequence[tuple[float, bool]], unanswerable: Sequence[float]
) -> tuple[float, float]:
    """The lowest threshold with the best balanced correct rate: answerable questions count
    when their confidence reaches it and their answer is right, unanswerable ones when their
    confidence stays below it. Returns (threshold, balanced correct rate)."""
    if not answerable or not unanswerable:
        raise ValueError("choosing a threshold needs answerable and unanswerable questions")
    best = (-1.0, 0.0)
    for threshold in sorted({0.0, *(c for c, _ in answerable), *unanswerable}):
        kept = statistics.fmean(c >= threshold and right for c, right in answerable)
        declined = statistics.fmean(c < threshold for c in unanswerable)
        best = max(best, ((kept + declined) / 2, -threshold))
    return -best[1], round(best[0], 4)
