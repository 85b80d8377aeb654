import json
import re

import pytest

from factdesk.answer.answers import NOT_FOUND
from factdesk.answer.question import clean_question
from factdesk.answer.reader import Reader
from factdesk.answer.schema import answer_json
from factdesk.errors import QuestionError
from factdesk.ingest.documents import read_article

from .conftest import SEED_QUESTIONS, SEEDS, assert_no_sentence_cited_twice


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x01"])
def test_empty_questions_are_refused(question):
    with pytest.raises(QuestionError, match="empty"):
        clean_question(question, 2000)


def test_long_questions_are_cut_with_a_warning():
    text, warnings = clean_question("word " * 1000, 2000)
    assert len(text) <= 2000 and warnings and "2,000" in warnings[0]


def test_control_characters_and_spacing_are_normalised():
    assert clean_question("  How\x07 many\n advisers?  ", 2000) == ("How many advisers?", [])


@pytest.mark.slow
def test_citations_point_at_exact_places_in_the_article(seed_pipeline):
    article = read_article(next(SEEDS.glob("*.txt")))
    answer = seed_pipeline.ask("Which analyst estimated the number of Russian officers?")
    assert answer.answered
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for citation in answer.citations:
        assert article.text[citation.start : citation.end] == citation.quote
        assert citation.quote in citation.passage
        assert citation.passage in article.text
        assert citation.source.endswith(".txt") and 0 < citation.score <= 1
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]
    assert markers == sorted(markers) and markers[0] == 1
    for n in markers:
        assert answer.citations[n - 1].quote in answer.answer


@pytest.mark.slow
def test_top_k_limits_citations(seed_pipeline):
    """Every seed question's citations are checked for repeats at top-k 3 in test_quality."""
    assert len(seed_pipeline.ask("Who is Mark Galeotti?", top_k=1).citations) == 1
    assert 1 <= len(seed_pipeline.ask("Who is Mark Galeotti?", top_k=3).citations) <= 3
    questions = [json.loads(line)["question"] for line in SEED_QUESTIONS.read_text().splitlines()]
    for question in questions[:8]:
        citations = seed_pipeline.ask(question, top_k=2).citations
        assert len(citations) <= 2
        assert_no_sentence_cited_twice(question, citations)


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "🙂🙂🙂",
        "?!?!...",
        "'; DROP TABLE chunks; --",
        "$(rm -rf /) && echo",
        "x" * 100_000,
    ],
)
def test_odd_questions_are_declined_without_error(seed_pipeline, question):
    answer = seed_pipeline.ask(question)
    assert not answer.answered and answer.answer.startswith(NOT_FOUND)
    assert answer.confidence < seed_pipeline.min_confidence


@pytest.mark.slow
@pytest.mark.parametrize("question", ["¿Cuántos asesores quedan?", "Сколько советников осталось?"])
def test_questions_in_other_languages_are_declined_by_the_reader(seed_pipeline, question):
    """The articles are English; an English-only reader must not guess. (Without the reader,
    a foreign question's cosine can pass 0.22 and a sentence is quoted: one reason the reader
    exists.)"""
    answer = seed_pipeline.ask(question)
    assert not answer.answered and answer.confidence < seed_pipeline.min_confidence


@pytest.mark.slow
def test_json_shape(seed_pipeline, reader):
    data = answer_json(seed_pipeline.ask("How many advisers remain?"))
    assert set(data) == {
        "question",
        "standalone_question",
        "answered",
        "answer",
        "mode",
        "llm_withheld",
        "short_answer",
        "confidence",
        "reader",
        "citations",
    }
    assert data["mode"] == "extractive" and data["llm_withheld"] is None
    assert data["reader"] == reader.version  # on by default
    short = data["short_answer"]
    assert set(short) == {"text", "start", "end"} and short["end"] - short["start"] == len(
        short["text"]
    )
    assert set(data["citations"][0]) == {
        "n",
        "quote",
        "passage",
        "source",
        "title",
        "url",
        "start",
        "end",
        "score",
        "published",
    }


@pytest.mark.slow
def test_newer_figure_wins_when_dated_articles_disagree(dated_settings, embedder):
    """The answer quotes the June article (40 advisers), not January's (300), and says when it
    was published: the choice between two answers is their strength times the passage's
    recency. Without a reader, so that the test is about recency and not the reader's scores."""
    from factdesk.service import NO_READER, load_pipeline

    question = "How many Rostec advisers remain in Venezuela now?"
    answer = load_pipeline(dated_settings, embedder=embedder, reader=NO_READER).ask(question)
    assert answer.answered and "to 40" in answer.answer
    assert answer.citations[0].published == "2024-06-03"
    assert answer.citations[0].source.endswith("rostec-advisers-june.md")
    plain = dated_settings.model_copy(update={"recency_weight": 0.0})
    before = load_pipeline(plain, embedder=embedder, reader=NO_READER).ask(question)
    assert "About 300" in before.answer  # without recency the older figure won


class _Recording:
    """The real embedder, noting every batch of texts it is asked to embed."""

    def __init__(self, embedder) -> None:
        self._embedder = embedder
        self.batches: list[list[str]] = []

    def embed(self, texts, batch_size: int = 8):
        self.batches.append(list(texts))
        return self._embedder.embed(texts, batch_size)

    def __getattr__(self, name):
        return getattr(self._embedder, name)


@pytest.mark.slow
def test_the_reader_reads_the_best_passages_and_cites_only_those_that_answer(
    seed_settings, embedder
):
    """The reader reads the best few retrieved passages whole; a passage is cited only when the
    reader found an answer in it too, so citations may be fewer than top-k."""
    from factdesk.answer.reading import SPAN_PASSAGES
    from factdesk.service import load_pipeline

    reader = Reader()
    read: list[int] = []
    original = reader.read
    reader.read = lambda question, passages: (  # type: ignore[method-assign]
        read.append(len(passages)) or original(question, passages)
    )
    pipeline = load_pipeline(seed_settings, embedder=embedder, reader=reader)
    answer = pipeline.ask("How many officers does Mark Galeotti believe are in Venezuela?")
    assert read == [SPAN_PASSAGES]
    assert answer.answered and answer.short_answer and "300" in answer.short_answer.text
    threshold = pipeline.min_confidence
    assert all(threshold <= citation.score for citation in answer.citations)


@pytest.mark.slow
def test_only_close_calls_embed_sentences_alone(seed_settings, embedder):
    """Without a reader, sentence vectors come from the index; the best five are embedded alone
    only when the decision to answer could go either way."""
    from factdesk.answer.reading import CONFIRM, CONFIRM_MARGIN
    from factdesk.service import NO_READER, load_pipeline

    article = read_article(next(SEEDS.glob("*.txt"))).text
    recording = _Recording(embedder)
    pipeline = load_pipeline(seed_settings, embedder=recording, reader=NO_READER)
    threshold = pipeline.min_confidence

    clear = pipeline.ask("How many officers does Mark Galeotti believe are in Venezuela?")
    assert clear.answered and clear.confidence >= threshold + CONFIRM_MARGIN
    assert not [t for batch in recording.batches for t in batch if t in article]

    recording.batches.clear()
    close = pipeline.ask("What is the capital of France?")
    sentences = [batch for batch in recording.batches if all(t in article for t in batch)]
    assert [len(batch) for batch in sentences] == [CONFIRM]
    assert not close.answered and close.confidence < threshold
