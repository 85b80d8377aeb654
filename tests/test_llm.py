"""LLM answers against a fake OpenAI-compatible server on loopback: real HTTP, real OpenAILike.

The answerer is the real one over the seed article (without the reader, so that what is tested
is the LLM path and the check, not the reader's choice of sentence).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading

import pytest

from factdesk.answer.conversation import Turn
from factdesk.answer.llm import LLM, NOT_IN_PASSAGES
from factdesk.answer.pipeline import Pipeline
from factdesk.answer.schema import answer_json
from factdesk.config import Settings
from factdesk.ingest.documents import read_article

from .conftest import SEEDS, with_llm
from .fake_llm import FakeLLM, Reply, Request

pytestmark = pytest.mark.slow

API_KEY = "sk-test-very-secret-key-0123456789"
QUESTION = "How many advisers remain?"


@pytest.fixture
def fake_llm():
    with FakeLLM() as server:
        yield server


def make_pipeline(pipeline: Pipeline, url: str, timeout: float = 60.0) -> Pipeline:
    settings = Settings(
        _env_file=None,
        llm_url=url,
        llm_model="fake-model",
        llm_api_key=API_KEY,
        llm_timeout=timeout,
    )
    return with_llm(pipeline, LLM(settings))


@pytest.fixture
def llm_pipeline(baseline_pipeline, fake_llm):
    return make_pipeline(baseline_pipeline, fake_llm.url)


def passages(request: Request) -> dict[int, str]:
    """The numbered passages of an answer prompt, by their number."""
    body = request.prompt.split("Passages:", 1)[1].rsplit("Question:", 1)[0]
    parts = re.split(r"^\[(\d+)\]", body, flags=re.M)[1:]
    return {int(n): text for n, text in zip(parts[::2], parts[1::2], strict=True)}


def passage_holding(request: Request, text: str) -> int:
    """The number the prompt gives the passage that holds `text`."""
    found = [n for n, passage in passages(request).items() if text in passage]
    assert found, f"no passage holds {text!r}"
    return found[0]


def advisers_answer(request: Request) -> str:
    n = passage_holding(request, "just a few dozen")
    return (
        f"Rostec has cut its defense advisers in Venezuela to just a few dozen, from 1,000 [{n}]."
    )


def test_a_good_answer_comes_through_with_valid_citations(
    llm_pipeline, fake_llm, baseline_pipeline
):
    fake_llm.reply_with(Reply(advisers_answer))
    answer = llm_pipeline.ask(QUESTION)
    assert answer.mode == "llm" and answer.withheld is None and answer.answered
    assert answer.answer.startswith("Rostec has cut its defense advisers")
    (request,) = fake_llm.answer_requests
    # The prompt numbers the passages as the answer's citations are numbered.
    shown = passages(request)
    assert sorted(shown) == [c.n for c in answer.citations]
    for citation in answer.citations:
        assert citation.passage in shown[citation.n]
    cited = int(re.search(r"\[(\d+)\]", answer.answer).group(1))
    quote = answer.citations[cited - 1]
    article = read_article(next(SEEDS.glob("*.txt"))).text
    assert "just a few dozen" in quote.quote and article[quote.start : quote.end] == quote.quote
    assert request.body["model"] == "fake-model" and request.body.get("stream") in (None, False)
    assert answer_json(answer)["mode"] == "llm"


def two_sentences(request: Request) -> str:
    n = passage_holding(request, "just a few dozen")
    return (
        f"Rostec has cut its defense advisers in Venezuela to just a few dozen [{n}]. "
        f"Rostec had 1,000 defense advisers in Venezuela several years ago [{n}]."
    )


def test_streamed_text_arrives_checked_sentence_by_sentence(llm_pipeline, fake_llm):
    fake_llm.reply_with(Reply(two_sentences))
    pieces: list[str] = []
    answer = llm_pipeline.ask(QUESTION, on_text=pieces.append)
    assert answer.mode == "llm" and fake_llm.answer_requests[0].body["stream"] is True
    # The first sentence is shown once the second begins; the last waits for the final check.
    assert len(pieces) == 1 and pieces[0].startswith("Rostec has cut")
    assert answer.answer.startswith(pieces[0].strip()) and "1,000" not in pieces[0]


def test_a_streamed_invented_figure_is_never_shown(llm_pipeline, fake_llm):
    fake_llm.reply_with(Reply(lambda r: two_sentences(r).replace("just a few dozen", "3,000")))
    pieces: list[str] = []
    answer = llm_pipeline.ask(QUESTION, on_text=pieces.append)
    assert pieces == [] and answer.withheld == "unsupported_figure"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            "Rostec has cut its defense advisers in Venezuela to just a few dozen [7].",
            "invented_citation",
        ),
        ("Rostec has cut its defense advisers in Venezuela to 3,000 [{n}].", "unsupported_figure"),
        (
            "Igor Sechin said Rostec cut its defense advisers to a few dozen [{n}].",
            "unsupported_name",
        ),
        (
            "Rostec cut its advisers to a few dozen [{n}]. Russia is clearly losing interest.",
            "uncited",
        ),
        (
            "The ambassador called the reports on the advisers absolutely false [{other}].",
            "unsupported",
        ),
        (NOT_IN_PASSAGES, "declined"),
        ("The passages do not contain this information.", "declined"),
        ("   ", "empty"),
        ("!!!! ---- ????", "garbage"),
    ],
)
def test_unchecked_answers_never_reach_the_user(
    llm_pipeline, fake_llm, baseline_pipeline, caplog, reply, reason
):
    def write(request: Request) -> str:
        n = passage_holding(request, "just a few dozen")
        other = next(m for m, p in passages(request).items() if "absolutely false" not in p)
        return reply.format(n=n, other=other)

    fake_llm.reply_with(Reply(write), Reply(write))
    extractive = baseline_pipeline.ask(QUESTION)
    shown: list[str] = []
    for on_text in (None, shown.append):  # not streamed, then streamed
        with caplog.at_level(logging.WARNING, logger="factdesk"):
            answer = llm_pipeline.ask(QUESTION, on_text=on_text)
        assert answer.mode == "extractive" and answer.withheld == reason
        assert answer.answer == extractive.answer and answer.citations == extractive.citations
        assert answer_json(answer)["llm_withheld"] == reason
        assert f"LLM answer withheld ({reason})" in caplog.text
        caplog.clear()
    for invented in ("[7]", "3,000", "Igor", "losing interest", "absolutely false"):
        assert invented not in "".join(shown)


@pytest.mark.parametrize("stream", [False, True])
def test_a_slow_model_costs_at_most_the_timeout(baseline_pipeline, fake_llm, stream):
    llm_pipeline = make_pipeline(baseline_pipeline, fake_llm.url, timeout=1.0)
    busy = threading.Event()
    fake_llm.reply_with(Reply(advisers_answer, hold=busy))
    answer = llm_pipeline.ask(QUESTION, on_text=[].append if stream else None)
    assert not busy.is_set()  # answered while the model was still busy
    busy.set()
    assert answer.withheld == "timeout" and answer.answer == baseline_pipeline.ask(QUESTION).answer


def test_a_stream_that_stalls_midway_costs_at_most_the_timeout(baseline_pipeline, fake_llm):
    llm_pipeline = make_pipeline(baseline_pipeline, fake_llm.url, timeout=1.0)
    stalled = threading.Event()
    fake_llm.reply_with(Reply(advisers_answer, stall_after=3, hold=stalled))
    pieces: list[str] = []
    answer = llm_pipeline.ask(QUESTION, on_text=pieces.append)
    assert not stalled.is_set()  # answered while the stream was still stalled
    stalled.set()
    assert answer.withheld == "timeout" and answer.mode == "extractive"
    assert pieces == []  # three words in, no sentence was finished, so none was shown


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(status=500), "error"),
        (Reply(status=429), "error"),
        (Reply(raw=b"<html>upstream went away</html>"), "error"),
        (Reply(raw=b'{"choices": "not a list"}'), "error"),
    ],
)
def test_endpoint_errors_fall_back_at_once_without_retries(llm_pipeline, fake_llm, reply, reason):
    fake_llm.reply_with(reply)
    answer = llm_pipeline.ask(QUESTION)
    assert answer.withheld == reason and answer.mode == "extractive"
    assert len(fake_llm.requests) == 1


def test_an_unreachable_endpoint_falls_back(baseline_pipeline):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        llm_pipeline = make_pipeline(baseline_pipeline, f"http://127.0.0.1:{port}/v1", timeout=2.0)
        answer = llm_pipeline.ask(QUESTION)
    assert answer.withheld == "unreachable" and answer.answered is not None


def test_a_follow_up_is_condensed_first_and_read_as_the_standalone_question(llm_pipeline, fake_llm):
    standalone = "What did Russia's ambassador in Venezuela say about the reports?"
    fake_llm.condense = Reply(standalone)
    fake_llm.reply_with(Reply(lambda r: f"The ambassador denied the reports [{denial(r)}]."))
    history = [Turn("Who is Russia's ambassador in Venezuela?", "Ambassador Vladimir Zayemsky [1]")]
    answer = llm_pipeline.ask("What did he say?", history)
    condense, ask = fake_llm.requests
    assert "Human: Who is Russia's ambassador in Venezuela?" in condense.prompt
    assert (
        "Assistant: Ambassador Vladimir Zayemsky" in condense.prompt
        and "[1]" not in condense.prompt
    )
    assert "What did he say?" in condense.prompt
    assert f"Question: {standalone}" in ask.prompt
    assert answer.standalone == standalone and answer.question == "What did he say?"
    assert answer.mode == "llm" and "denied the reports" in answer.answer


def denial(request: Request) -> int:
    return passage_holding(request, "absolutely false")


def test_a_condense_step_that_times_out_spends_the_whole_budget_once(baseline_pipeline, fake_llm):
    llm_pipeline = make_pipeline(baseline_pipeline, fake_llm.url, timeout=1.0)
    busy = threading.Event()
    fake_llm.condense = Reply("What did the ambassador say?", hold=busy)
    history = [Turn("Who is Russia's ambassador in Venezuela?", "")]
    answer = llm_pipeline.ask("What did he say?", history)
    assert not busy.is_set() and len(fake_llm.requests) == 1  # no second call after a timeout
    busy.set()
    assert answer.withheld == "timeout"
    assert answer.standalone == "What did Russia's ambassador in Venezuela say?"  # no-LLM reading


def test_the_api_key_is_sent_but_never_logged_or_printed(llm_pipeline, fake_llm, caplog):
    fake_llm.reply_with(Reply(advisers_answer), Reply(status=500))
    with caplog.at_level(logging.DEBUG):
        first = llm_pipeline.ask(QUESTION)
        second = llm_pipeline.ask(QUESTION)
    assert fake_llm.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"
    for text in (
        caplog.text,
        json.dumps(answer_json(first)),
        json.dumps(answer_json(second)),
        repr(llm_pipeline),
    ):
        assert API_KEY not in text
    assert API_KEY not in repr(Settings(_env_file=None, llm_api_key=API_KEY))
