"""Answer quality: the real model and reader, a real Chroma, questions written blind to the code.

The seed question set (src/factdesk/evaluation/seed_questions.jsonl) holds questions worded as
readers word them, each naming the evidence its answer must quote, and on-topic questions the
seed article does not answer. tests/paraphrased_questions.jsonl adds paraphrased and
unanswerable questions over the seed article and a second, related news article
(tests/data/news/), both in one index, written before anyone looked at the answers. Nothing was
tuned on either: the reader's calibration and threshold come from held-out SQuAD articles
(models/reader/MODEL_CARD.md). The gates sit a little under what was measured; the figures are
in benchmarks/README.md.
"""

from __future__ import annotations

import json

import pytest

from factdesk.answer.answer_types import asks_yes_or_no
from factdesk.answer.answers import NOT_FOUND
from factdesk.answer.schema import answer_json
from factdesk.evaluation.questions import evaluate, load_questions

from .conftest import REPO, SEED_QUESTIONS, SEEDS, assert_no_sentence_cited_twice, make_settings

pytestmark = pytest.mark.slow

QUESTIONS = load_questions(SEED_QUESTIONS)
PARAPHRASED_FILE = REPO / "tests" / "paraphrased_questions.jsonl"
PARAPHRASED = load_questions(PARAPHRASED_FILE)
NEWS = REPO / "tests" / "data" / "news"
ARTICLE_OF = {
    json.loads(line)["question"]: json.loads(line)["article"]
    for line in PARAPHRASED_FILE.read_text().splitlines()
    if line.strip()
}


def test_question_files_are_big_enough():
    assert sum(q.answerable for q in QUESTIONS) >= 60
    assert sum(not q.answerable for q in QUESTIONS) >= 20
    assert sum(q.answerable for q in PARAPHRASED) >= 20
    assert sum(not q.answerable for q in PARAPHRASED) >= 10
    assert set(ARTICLE_OF.values()) == {"seed", "new"}


@pytest.fixture(scope="module")
def report(seed_pipeline):
    return evaluate(seed_pipeline, QUESTIONS, top_k=3)


@pytest.fixture(scope="module")
def baseline_report(baseline_pipeline):
    return evaluate(baseline_pipeline, QUESTIONS, top_k=3)


@pytest.fixture(scope="module")
def two_articles(tmp_path_factory, embedder):
    """The pipeline as shipped over the seed article and the second news article."""
    from factdesk.ingest.indexer import Indexer
    from factdesk.service import load_pipeline

    settings = make_settings(tmp_path_factory.mktemp("two-articles"))
    Indexer(settings, embedder).index_paths([SEEDS, NEWS])
    return load_pipeline(settings, embedder=embedder)


@pytest.fixture(scope="module")
def paraphrased_report(two_articles):
    return evaluate(two_articles, PARAPHRASED, top_k=3)


def _misses(outcomes) -> dict[str, str]:
    return {o.question.text: o.answer.answer[:120] for o in outcomes}


def test_the_seed_questions_keep_their_measured_quality(report):
    figures = report.figures()
    misses = _misses(o for o in report.outcomes if o.question.answerable and 1 not in o.relevant)
    assert figures["hit@1"] >= GATES["seed_hit1"], misses
    assert figures["answer_has_evidence"] >= GATES["seed_evidence"]
    assert figures["declined_unanswerable"] >= GATES["seed_declined"]
    assert figures["wrongly_declined"] <= GATES["seed_wrongly_declined"]


def test_the_reader_declines_more_unanswerable_questions_than_the_pre_rank(report, baseline_report):
    reader, pre_rank = report.figures(), baseline_report.figures()
    assert reader["declined_unanswerable"] >= pre_rank["declined_unanswerable"] + 0.2
    for outcome in report.outcomes:
        if not outcome.question.answerable and not outcome.answer.answered:
            assert outcome.answer.answer.startswith(NOT_FOUND)


def test_paraphrased_questions_over_two_articles(paraphrased_report):
    """Questions written blind, over two related articles in one index."""
    figures = paraphrased_report.figures()
    answerable = [o for o in paraphrased_report.outcomes if o.question.answerable]
    wrong_first = _misses(o for o in answerable if 1 not in o.relevant)
    assert figures["hit@1"] >= GATES["paraphrased_hit1"], wrong_first
    assert figures["answer_has_evidence"] >= GATES["paraphrased_evidence"]
    assert figures["declined_unanswerable"] >= GATES["paraphrased_declined"]
    assert figures["wrongly_declined"] <= GATES["paraphrased_wrongly_declined"]


def test_no_sentence_is_cited_twice(report, paraphrased_report):
    for outcome in [*report.outcomes, *paraphrased_report.outcomes]:
        assert len(outcome.answer.citations) <= 3
        assert_no_sentence_cited_twice(outcome.question.text, outcome.answer.citations)


def test_answers_come_from_the_right_article(paraphrased_report):
    """With two articles indexed, the answer cites the article its question is about."""
    answered = [
        o for o in paraphrased_report.outcomes if o.question.answerable and o.answer.answered
    ]
    right = [
        o
        for o in answered
        if (ARTICLE_OF[o.question.text] == "new") == ("pdvsa" in o.answer.citations[0].source)
    ]
    assert len(right) / len(answered) >= GATES["right_article"]


def test_the_short_answer_is_short_and_sits_in_the_first_citation(report):
    answered = [o.answer for o in report.outcomes if o.answer.answered]
    for answer in answered:
        short, first = answer.short_answer, answer.citations[0]
        if short is None:  # no span says yes or no: the sentence is the answer
            assert asks_yes_or_no(answer.question), answer.question
            continue
        assert first.start <= short.start < short.end <= first.end
        assert first.quote[short.start - first.start : short.end - first.start] == short.text
    words = sorted(len(a.short_answer.text.split()) for a in answered if a.short_answer)
    assert words[len(words) // 2] <= 6  # the median short answer is a few words


def test_the_confidence_separates_right_from_wrong(report):
    """Right answers are given with more confidence than wrong ones, on average."""
    right = [o.answer.confidence for o in report.outcomes if o.answer.answered and o.correct]
    wrong = [o.answer.confidence for o in report.outcomes if o.answer.answered and not o.correct]
    assert right and wrong and sum(right) / len(right) > sum(wrong) / len(wrong)


def test_off_topic_questions_are_declined_without_related_passages(seed_pipeline):
    for question in ("What is the capital of France?", "How do I bake sourdough bread at home?"):
        answer = seed_pipeline.ask(question)
        assert answer.answer == NOT_FOUND and not answer.citations


def test_on_topic_unanswerable_questions_list_related_passages(seed_pipeline):
    answer = seed_pipeline.ask("Who is the chief executive of Rostec?")
    assert not answer.answered and answer.answer.startswith(NOT_FOUND)
    assert answer.citations and all("Rostec" in c.passage for c in answer.citations)
    assert answer.confidence < seed_pipeline.min_confidence


def test_the_analyst_question_gives_the_short_answer_and_its_sentence(seed_pipeline):
    answer = seed_pipeline.ask("Which analyst estimated the number of Russian officers?")
    assert answer.short_answer and answer.short_answer.text == "Mark Galeotti"
    first = answer.citations[0]
    assert first.n == 1 and "300" in first.quote and answer.answer.endswith("[1]")
    assert first.source.endswith(".txt") and first.title
    assert answer.confidence >= seed_pipeline.min_confidence
    assert answer_json(answer)["short_answer"]["text"] == "Mark Galeotti"


def test_a_yes_or_no_question_is_answered_with_the_sentence_that_bears_on_it(seed_pipeline):
    # No span says "yes": the reader is not asked, the best sentence read alone decides.
    answer = seed_pipeline.ask("Has the ambassador in Caracas denied the reports?")
    assert answer.answered and answer.short_answer is None
    assert "absolutely false" in answer.citations[0].quote
    assert not seed_pipeline.ask("Did France win the 2018 World Cup?").answered


# A little under what was measured (benchmarks/README.md, "Answers on the seed questions"):
# seed 0.803 / 0.465 / 21 of 24 / 33 of 71; two articles 0.930 / 0.791 / 8 of 14 / 8 of 43;
# every answered question cited its own article. They guard against getting worse.
GATES = {
    "seed_hit1": 0.78,
    "seed_evidence": 0.44,
    "seed_declined": 0.83,
    "seed_wrongly_declined": 0.48,
    "paraphrased_hit1": 0.90,
    "paraphrased_evidence": 0.76,
    "paraphrased_declined": 0.50,
    "paraphrased_wrongly_declined": 0.21,
    "right_article": 0.95,
}
