import json
import re

import pytest

from factdesk.answer.answers import NOT_FOUND, clean_question
from factdesk.errors import QuestionError
from factdesk.ingest.documents import read_article

from .conftest import SEED_QUESTIONS, SEEDS


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
def test_citations_point_at_exact_places_in_the_article(seed_service):
    article = read_article(next(SEEDS.glob("*.txt")))
    answer = seed_service.ask("Why is backing Maduro no longer worth it for Moscow?")
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
def test_top_k_limits_citations(seed_service):
    assert len(seed_service.ask("Who is Mark Galeotti?", top_k=1).citations) == 1
    assert len(seed_service.ask("Who is Mark Galeotti?", top_k=3).citations) == 3
    questions = [json.loads(line)["question"] for line in SEED_QUESTIONS.read_text().splitlines()]
    for top_k in (1, 2):
        for question in questions:
            assert len(seed_service.ask(question, top_k=top_k).citations) <= top_k


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
def test_odd_questions_are_declined_without_error(seed_service, question):
    answer = seed_service.ask(question)
    assert not answer.answered and answer.answer.startswith(NOT_FOUND)
    assert 0 <= answer.confidence < seed_service.answerer.min_confidence


@pytest.mark.slow
@pytest.mark.parametrize("question", ["¿Cuántos asesores quedan?", "Сколько советников осталось?"])
def test_questions_in_other_languages_are_declined_by_the_reader(seed_service, question):
    """The articles are English; an English-only reader must not guess. (Without the reader,
    a foreign question's cosine can pass 0.22 and a sentence is quoted: one reason the reader
    exists.)"""
    answer = seed_service.ask(question)
    assert not answer.answered and answer.confidence < seed_service.answerer.min_confidence


@pytest.mark.slow
def test_json_shape(seed_service):
    data = seed_service.ask("How many advisers remain?").to_dict()
    assert set(data) == {
        "question",
        "standalone_question",
        "answered",
        "answer",
        "mode",
        "llm_withheld",
        "confidence",
        "reader",
        "citations",
    }
    assert data["mode"] == "extractive" and data["llm_withheld"] is None
    assert 0 <= data["confidence"] <= 1 and data["reader"] is None  # no reader by default
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
    was published. Read without the trained reader, whose scores are not fixed yet: the choice
    between two answering sentences is the reader's score times the passage's recency."""
    from factdesk.service import NO_READER, load_answerer

    question = "How many Rostec advisers remain in Venezuela now?"
    answer = load_answerer(dated_settings, embedder=embedder, reader=NO_READER).answer(question)
    assert answer.answered and "to 40" in answer.answer
    assert answer.citations[0].published == "2024-06-03"
    assert answer.citations[0].source.endswith("rostec-advisers-june.md")
    plain = dated_settings.model_copy(update={"recency_weight": 0.0})
    before = load_answerer(plain, embedder=embedder, reader=NO_READER).answer(question)
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
def test_the_reader_reads_only_the_pre_ranks_best_few(seed_settings, embedder):
    """The reader costs about 5 ms a sentence, and on SQuAD's tune articles reading more than
    the pre-rank's best few picks no better; the cited passages' other sentences stay unread."""
    from factdesk.answer.answers import READ
    from factdesk.answer.reader import Reader
    from factdesk.service import load_answerer

    reader = Reader()
    asked: list[int] = []
    score = reader.score
    reader.score = lambda question, sentences: (
        asked.append(len(sentences)) or score(question, sentences)
    )
    answerer = load_answerer(seed_settings, embedder=embedder, reader=reader)

    answer = answerer.answer("How many officers does Mark Galeotti believe are in Venezuela?")
    assert asked == [READ]
    assert answer.answered and len(answer.citations) > 1
    assert all(0 < citation.score <= 1 for citation in answer.citations)


@pytest.mark.slow
def test_only_close_calls_embed_sentences_alone(seed_settings, embedder):
    """Sentence vectors come from the index; the best five are embedded alone only when the
    decision to answer could go either way."""
    from factdesk.answer.answers import CONFIRM, CONFIRM_MARGIN
    from factdesk.service import load_answerer

    article = read_article(next(SEEDS.glob("*.txt"))).text
    recording = _Recording(embedder)
    answerer = load_answerer(seed_settings, embedder=recording)

    clear = answerer.answer("How many officers does Mark Galeotti believe are in Venezuela?")
    assert clear.answered and clear.confidence >= answerer.min_confidence + CONFIRM_MARGIN
    assert not [t for batch in recording.batches for t in batch if t in article]

    recording.batches.clear()
    close = answerer.answer("What is the capital of France?")
    sentences = [batch for batch in recording.batches if all(t in article for t in batch)]
    assert [len(batch) for batch in sentences] == [CONFIRM]
    assert not close.answered and close.confidence < answerer.min_confidence
