"""The arithmetic of the reader's decision (benchmarks/reader_figures.py): the calibrator, the
threshold and the AUC that the model card reports. The measuring itself runs with training."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest


@pytest.fixture
def figures(benchmark_script):
    return benchmark_script("reader_figures")


def test_the_auc_counts_ties_as_half(figures):
    assert figures.auc([(2.0, True), (1.0, False)]) == 1.0
    assert figures.auc([(1.0, True), (2.0, False)]) == 0.0
    assert figures.auc([(1.0, True), (1.0, False)]) == 0.5
    assert figures.auc([(3.0, True), (1.0, True), (2.0, False)]) == 0.5


def test_the_calibrator_learns_which_feature_tells_right_from_wrong(figures):
    """Spans are right with probability sigmoid(2 x margin - 3 x missing): the fit finds both
    signs and sizes, and gives a feature that tells nothing a weight near 0."""
    rng = random.Random(3)
    rows = []
    for _ in range(4000):
        margin, missing, passage = rng.uniform(-3, 3), rng.random(), rng.random()
        p = 1 / (1 + math.exp(-(2 * margin - 3 * missing)))
        rows.append(
            {"margin": margin, "missing": missing, "passage": passage, "right": rng.random() < p}
        )
    fitted = figures.fit_calibration(rows, ("margin", "passage", "missing"))
    weights = fitted["weights"]
    assert weights["margin"] == pytest.approx(2, abs=0.3)
    assert weights["missing"] == pytest.approx(-3, abs=0.6)
    assert abs(weights["passage"]) < 0.4
    assert abs(fitted["intercept"]) < 0.4


def _questions(rng: random.Random, count: int, unanswerable_share: float) -> list[dict]:
    """Span rows of made questions: three spans each, the best one right with probability
    sigmoid(margin - 1) when the question is answerable, never when it is not."""
    rows = []
    for number in range(count):
        answerable = rng.random() >= unanswerable_share
        for span in range(3):
            margin = rng.gauss(2.0 if answerable else -1.0, 1.5) - 2.0 * span
            p = 1 / (1 + math.exp(-(margin - 1))) if answerable and span == 0 else 0.0
            rows.append(
                {
                    "id": str(number),
                    "answerable": answerable,
                    "margin": margin,
                    "right": rng.random() < p,
                }
            )
    return rows


def test_the_answer_calibration_holds_at_the_given_mix_not_the_tune_sets(figures):
    """Fitted on tune questions half of which are unanswerable, for a mix with a quarter: the
    best span's confidence is calibrated on questions drawn at that mix; the fit on every span
    of the tune questions is not."""
    from factdesk.answer.calibration import Calibration
    from factdesk.evaluation.metrics import expected_calibration_error

    rng = random.Random(5)
    tune, test = _questions(rng, 3000, 0.5), _questions(rng, 3000, 0.25)
    best = {}
    for row in test:
        if row["id"] not in best or row["margin"] > best[row["id"]]["margin"]:
            best[row["id"]] = row

    def error(calibration: dict) -> float:
        curve = Calibration.of(calibration)
        scored = [(curve.confidence(r), r["right"]) for r in best.values()]
        return expected_calibration_error(scored)

    fitted = figures.fit_answer_calibration(tune, 0.25, ("margin",))
    every_span = figures.fit_calibration(tune, ("margin",))
    assert error(fitted) < 0.04
    assert error(every_span) > 2 * error(fitted)


@dataclass
class _Question:
    answerable: bool


@dataclass
class _Answer:
    confidence: float


@dataclass
class _Outcome:
    question: _Question
    answer: _Answer
    quotes_an_answer: bool


@dataclass
class _Report:
    outcomes: list[_Outcome]


def test_the_threshold_is_where_most_decisions_are_right_at_the_given_mix(figures):
    answerable = [_Outcome(_Question(True), _Answer(c), True) for c in (0.9, 0.8, 0.7, 0.4)]
    unanswerable = [_Outcome(_Question(False), _Answer(c), False) for c in (0.6, 0.3, 0.2, 0.1)]
    # with many unanswerable questions, declining the one at 0.6 is worth losing the one at 0.4
    threshold, rate = figures.choose_threshold(_Report(answerable + unanswerable), 0.6)
    assert threshold == 0.7
    assert rate == pytest.approx(0.4 * 3 / 4 + 0.6 * 4 / 4)
    # with few unanswerable questions, answering everything above 0.4 is right more often
    threshold, _ = figures.choose_threshold(_Report(answerable + unanswerable), 0.1)
    assert threshold == 0.4


def _span(question: str, margin: float, passage: int, right: bool) -> dict:
    return {
        "id": question,
        "answerable": True,
        "margin": margin,
        "passage": passage,
        "right": right,
    }


def test_the_lower_passage_weight_moves_from_1_only_for_more_right_answers(figures):
    identity = {"weights": {"margin": 1.0}, "intercept": 0.0}  # confidence = sigmoid(margin)
    # q1 and q2: a slightly surer wrong span below the first passage's right one; q3: a far
    # surer right span below a wrong one, which any weight of 0.5 or more still quotes.
    rows = [
        _span("q1", 1.0, 0, True), _span("q1", 1.2, 1, False),
        _span("q2", 0.5, 0, True), _span("q2", 0.7, 2, False),
        _span("q3", 0.1, 0, False), _span("q3", 4.0, 1, True),
    ]  # fmt: skip
    # Every weight from 0.9 to 0.6 answers all three right (0.5 loses q3): the largest is kept.
    assert figures.choose_lower_passage_weight(rows, identity, threshold=0.5) == (0.9, 1.0)
    # Where the surer span further down is the right one, the weight stays 1.
    level = [_span("q", 1.0, 0, False), _span("q", 1.2, 1, True)]
    assert figures.choose_lower_passage_weight(level, identity, threshold=0.5) == (1.0, 1.0)
    # A question whose best span does not pass is not answered, whatever the weight.
    assert figures.choose_lower_passage_weight(rows[:2], identity, threshold=0.9) == (1.0, 0.0)


def test_the_card_says_where_training_started(figures):
    """From the base model, from another reader, or an average of checkpoints."""
    base = {"recipe": {"start_from": None}}
    assert figures._origin(base) == "from the base model"
    further = {"recipe": {"start_from": "3-5baf7c97"}}
    assert figures._origin(further) == "from the reader 3-5baf7c97"
    averaged = further | {"averaged": ["reader-5/epoch-2.pt", "reader-7/epoch-1.pt"]}
    assert "average" in figures._origin(averaged)
    assert "reader-7/epoch-1.pt" in figures._origin(averaged)
