"""Answer quality over the seed article: the real model and reader, a real Chroma, our questions.

tests/seed_questions.jsonl holds questions worded as readers word them (synonyms, few words shared
with the article), each naming the evidence its answer must quote, and on-topic questions the
article does not answer, which factdesk must decline. Nothing here was tuned on these questions:
the reader's threshold was chosen on held-out SQuAD articles (models/reader/MODEL_CARD.md).
"""

from __future__ import annotations

import pytest

from factdesk.answers import NOT_FOUND
from factdesk.evaluation import evaluate, load_questions

from .conftest import SEED_QUESTIONS

pytestmark = pytest.mark.slow

QUESTIONS = load_questions(SEED_QUESTIONS)


def test_question_file_is_big_enough():
    assert sum(q.answerable for q in QUESTIONS) >= 60
    assert sum(not q.answerable for q in QUESTIONS) >= 20


@pytest.fixture(scope="module")
def report(seed_answerer):
    return evaluate(seed_answerer, QUESTIONS, top_k=3)


def _failures(outcomes) -> dict[str, str]:
    return {o.question.text: o.answer.answer for o in outcomes}


def test_first_citation_holds_the_evidence_for_nineteen_in_twenty(report):
    assert report.figures()["hit@1"] >= 0.95, _failures(
        o for o in report.outcomes if o.question.answerable and 1 not in o.relevant
    )


def test_the_answer_quotes_the_evidence_for_nine_in_ten(report):
    assert report.figures()["answer_has_evidence"] >= 0.90


def test_every_unanswerable_question_is_declined(report):
    answered = [o for o in report.outcomes if not o.question.answerable and o.answer.answered]
    assert not answered, _failures(answered)
    for outcome in report.outcomes:
        if not outcome.question.answerable:
            assert outcome.answer.answer.startswith(NOT_FOUND)


def test_no_answerable_question_is_declined(report):
    declined = [o for o in report.outcomes if o.question.answerable and not o.answer.answered]
    assert not declined, _failures(declined)


def test_off_topic_questions_are_declined_without_related_passages(seed_answerer):
    for question in ("What is the capital of France?", "How do I bake sourdough bread at home?"):
        answer = seed_answerer.answer(question)
        assert answer.answer == NOT_FOUND and not answer.citations


def test_on_topic_unanswerable_questions_list_related_passages(seed_answerer):
    answer = seed_answerer.answer("Who is the chief executive of Rostec?")
    assert not answer.answered and answer.answer.startswith(NOT_FOUND)
    assert answer.citations and all("Rostec" in c.passage for c in answer.citations)
    assert answer.confidence < seed_answerer.min_confidence


def test_advisers_question_quotes_the_rostec_sentence(seed_answerer):
    answer = seed_answerer.answer("How many advisers remain?")
    assert "just a few dozen" in answer.answer and "1,000" in answer.answer
    assert answer.answer.endswith("[1]")
    first = answer.citations[0]
    assert first.n == 1 and "Rostec" in first.quote and first.quote in answer.answer
    assert first.source.endswith(".txt") and first.title
    assert answer.confidence >= seed_answerer.min_confidence
