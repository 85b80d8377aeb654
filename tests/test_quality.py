"""Answer quality over the seed article: the real model and reader, a real Chroma, our questions.

tests/seed_questions.jsonl holds questions worded as readers word them (synonyms, few words shared
with the article), each naming the evidence its answer must quote, and on-topic questions the
article does not answer, which factdesk must decline. Nothing here was tuned on these questions:
the reader's threshold was chosen on held-out SQuAD articles (models/reader/MODEL_CARD.md), the
answerer as shipped (no reader) was set in the first round on 36 questions that are a subset.
"""

from __future__ import annotations

import pytest

from factdesk.answer.answers import NOT_FOUND
from factdesk.evaluation.questions import evaluate, load_questions

from .conftest import SEED_QUESTIONS

pytestmark = pytest.mark.slow

QUESTIONS = load_questions(SEED_QUESTIONS)


def test_question_file_is_big_enough():
    assert sum(q.answerable for q in QUESTIONS) >= 60
    assert sum(not q.answerable for q in QUESTIONS) >= 20


@pytest.fixture(scope="module")
def report(seed_service):
    return evaluate(seed_service, QUESTIONS, top_k=3)


@pytest.fixture(scope="module")
def reader_report(seed_service):
    return evaluate(seed_service, QUESTIONS, top_k=3)


def _failures(outcomes) -> dict[str, str]:
    return {o.question.text: o.answer.answer for o in outcomes}


def test_the_answerer_as_shipped_keeps_its_measured_quality(report):
    """Regression gates for the default answerer (no reader), a little under what it measured:
    hit@1 0.83, answer quotes the evidence 0.73, unanswerables declined 0.29, answerables
    declined 0.056 (4 of 71). They guard against getting worse; they are not the targets."""
    figures = report.figures()
    misses = _failures(o for o in report.outcomes if o.question.answerable and 1 not in o.relevant)
    assert figures["hit@1"] >= 0.82, misses
    assert figures["answer_has_evidence"] >= 0.71
    assert figures["declined_unanswerable"] >= 0.25
    assert figures["wrongly_declined"] <= 0.07


NOT_YET = pytest.mark.xfail(
    strict=True,
    reason="issue 8's targets, not met by the trained reader yet (see its model card); strict, "
    "so this fails the day they are met and the marker must go",
)


@NOT_YET
def test_the_reader_cites_the_evidence_first_for_nineteen_in_twenty(reader_report):
    assert reader_report.figures()["hit@1"] >= 0.95


@NOT_YET
def test_the_reader_quotes_the_evidence_for_nine_in_ten(reader_report):
    assert reader_report.figures()["answer_has_evidence"] >= 0.90


@NOT_YET
def test_the_reader_declines_every_unanswerable_question_and_no_answerable_one(reader_report):
    assert reader_report.figures()["declined_unanswerable"] == 1.0
    assert reader_report.figures()["wrongly_declined"] == 0.0


def test_the_reader_declines_more_unanswerable_questions_than_the_answerer_as_shipped(
    report, reader_report
):
    """What the reader does better today (0.88 declined against 0.29, measured)."""
    reader, shipped = reader_report.figures(), report.figures()
    assert reader["declined_unanswerable"] >= shipped["declined_unanswerable"] + 0.4
    for outcome in reader_report.outcomes:
        if not outcome.question.answerable and not outcome.answer.answered:
            assert outcome.answer.answer.startswith(NOT_FOUND)


def test_off_topic_questions_are_declined_without_related_passages(seed_service):
    for question in ("What is the capital of France?", "How do I bake sourdough bread at home?"):
        answer = seed_service.ask(question)
        assert answer.answer == NOT_FOUND and not answer.citations


def test_on_topic_unanswerable_questions_list_related_passages(seed_service):
    answer = seed_service.ask("Who is the chief executive of Rostec?")
    assert not answer.answered and answer.answer.startswith(NOT_FOUND)
    assert answer.citations and all("Rostec" in c.passage for c in answer.citations)
    assert answer.confidence < seed_service.answerer.min_confidence


def test_advisers_question_quotes_the_rostec_sentence(seed_service):
    answer = seed_service.ask("How many advisers remain?")
    assert "just a few dozen" in answer.answer and "1,000" in answer.answer
    assert answer.answer.endswith("[1]")
    first = answer.citations[0]
    assert first.n == 1 and "Rostec" in first.quote and first.quote in answer.answer
    assert first.source.endswith(".txt") and first.title
    assert answer.confidence >= seed_service.answerer.min_confidence
