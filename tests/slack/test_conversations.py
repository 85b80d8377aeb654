"""Follow-ups in Slack: threads and direct messages carry their history; LLM answers stream into
a placeholder; follow-up and LLM answers render within Slack's limits; feedback counts by mode."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fakes.slack_payloads import app_mention, event_callback, message

from factdesk.answer.answers import Answer, Citation
from factdesk.answer.conversation import Turn
from factdesk.slack.blocks import LLM_NOTE, MAX_BLOCKS, MAX_TEXT, WRITING, render_answer
from factdesk.slack.database import BotDatabase, feedback_summary
from factdesk.slack.events import handle_app_mention, handle_message
from factdesk.slack.replies import Replier
from factdesk.slack.streaming import DraftUpdater
from factdesk.terminal import render_summary

AMBASSADOR = "Who is Russia's ambassador in Venezuela?"


def test_a_thread_follow_up_is_asked_with_the_thread_so_far(replier, client, context, fake_api):
    mention = app_mention("how many advisers remain?", channel="C7")
    handle_app_mention(event=mention, client=client, context=context, replier=replier)
    follow_up = message("Who said so?", channel="C7", thread_ts=mention["ts"])
    handle_message(event=follow_up, client=client, context=context, replier=replier)
    first, second = replier.answerer.histories
    assert first == []
    (turn,) = second
    assert turn.question == "how many advisers remain?" and "few dozen" in turn.answer
    assert [p["thread_ts"] for p in fake_api.posted()] == [mention["ts"], mention["ts"]]


def history_at_each(call: str, client, store, event: dict) -> list[list[Turn]]:
    """Make the client note the event's thread history each time it makes `call`, before it."""
    seen: list[list[Turn]] = []
    original = getattr(client, call)

    def look_then_call(**message):
        seen.append(store.history(event["channel"], event["ts"], 3))
        return original(**message)

    setattr(client, call, look_then_call)
    return seen


def test_the_turn_is_saved_before_the_answer_appears(replier, client, context, store):
    """A follow-up sent the moment the answer shows must find it in the thread's history."""
    mention = app_mention("how many advisers remain?", channel="C8")
    saved_when_shown = history_at_each("chat_postMessage", client, store, mention)
    handle_app_mention(event=mention, client=client, context=context, replier=replier)
    assert [t.question for t in saved_when_shown[0]] == ["how many advisers remain?"]


def test_threads_do_not_share_history(replier, client, context):
    one, two = app_mention("how many advisers?"), app_mention("advisers today?")
    for event in (one, two):
        handle_app_mention(event=event, client=client, context=context, replier=replier)
    handle_message(
        event=message("Who said so?", thread_ts=two["ts"]),
        client=client,
        context=context,
        replier=replier,
    )
    assert [t.question for t in replier.answerer.histories[-1]] == ["advisers today?"]


def test_direct_messages_remember_recent_turns_only(fake_answerer, store, client, context):
    def dm(text: str, replier: Replier) -> None:
        event = message(text, channel="D1", channel_type="im")
        handle_message(event=event, client=client, context=context, replier=replier)

    recent = Replier(answerer=fake_answerer, database=store, dm_window=timedelta(minutes=30))
    dm("how many advisers remain?", recent)
    dm("and before?", recent)
    assert [t.question for t in fake_answerer.histories[-1]] == ["how many advisers remain?"]
    expired = Replier(answerer=fake_answerer, database=store, dm_window=timedelta(microseconds=1))
    dm("and before?", expired)
    assert fake_answerer.histories[-1] == []


def test_a_history_keeps_the_last_turns_in_order(store):
    for n in range(5):
        store.save_turn("C1", "1.0", f"q{n}", f"a{n}")
    store.save_turn("C1", "2.0", "other", "thread")
    assert store.history("C1", "1.0", 3) == [Turn("q2", "a2"), Turn("q3", "a3"), Turn("q4", "a4")]


class StreamingAnswerer:
    """Streams five sentences as an LLM would (through `on_text`), then answers."""

    streams = True

    def __init__(self, answer: Answer) -> None:
        self.final = answer

    def ask(self, question, history=(), top_k=None, on_text=None) -> Answer:
        for n in range(5):
            on_text(f"Sentence {n} [1]. ")
        return self.final


def llm_answer(question: str = "How many advisers remain?", **changes) -> Answer:
    quote = "Rostec has cut its defense advisers in Venezuela to “just a few dozen” now."
    citation = Citation(1, quote, quote, "seeds/a.txt", "Advisers", None, 0, len(quote), 0.9)
    fields = {"mode": "llm", "standalone": None, **changes}
    return Answer(question, True, "Rostec now has a few dozen advisers [1].", [citation], **fields)


def test_an_llm_answer_streams_into_a_placeholder_then_is_replaced(
    store, client, context, fake_api
):
    replier = Replier(answerer=StreamingAnswerer(llm_answer()), database=store, update_seconds=60)
    event = app_mention("how many advisers remain?")
    handle_app_mention(event=event, client=client, context=context, replier=replier)
    (placeholder,) = fake_api.posted()
    assert placeholder["text"] == WRITING and placeholder["thread_ts"] == event["ts"]
    draft, final = (c.body for c in fake_api.calls_to("chat.update"))
    # Five pieces within a minute: one draft update (the first), then the final answer.
    assert draft["text"] == "Sentence 0 [1]."
    assert final["text"].startswith("Rostec now has a few dozen advisers [1].")
    assert final["ts"] == draft["ts"] == "1700000000.000001"
    texts = json.dumps(final["blocks"])
    assert LLM_NOTE in texts and "factdesk_vote_up" in texts and "just a few dozen" in texts
    assert store.history(event["channel"], event["ts"], 3)[0].answer.startswith("Rostec now")


def test_a_streamed_turn_is_saved_before_the_final_answer_replaces_the_placeholder(
    store, client, context
):
    replier = Replier(answerer=StreamingAnswerer(llm_answer()), database=store, update_seconds=60)
    event = app_mention("how many advisers remain?")
    saved_when_final = history_at_each("chat_update", client, store, event)
    handle_app_mention(event=event, client=client, context=context, replier=replier)
    assert saved_when_final[0] == []  # the draft: nothing to remember yet
    assert saved_when_final[-1][0].answer.startswith("Rostec now")


def test_drafts_are_updated_at_most_once_per_interval(client, fake_api):
    now = [0.0]
    updater = DraftUpdater(client, "C1", "1.1", interval=1.0, clock=lambda: now[0])
    for step in range(10):  # a piece every 0.3 s for 3 s
        now[0] = step * 0.3
        updater(f"piece {step}. ")
    updates = [c.body["text"] for c in fake_api.calls_to("chat.update")]
    assert len(updates) == updater.updates == 3  # at 0.0, 1.2 and 2.4 s
    assert updates[-1].endswith("piece 8.")


def test_follow_up_and_llm_answers_stay_within_slacks_limits():
    long = "What did he say " * 400
    answer = llm_answer(question=long, standalone=long + "?")
    answer = Answer(
        answer.question,
        True,
        "Claim [1]. " * 1000,
        answer.citations * 60,
        mode="llm",
        standalone=answer.standalone,
    )
    message = render_answer(answer, answer_id="a1")
    assert len(message.blocks) <= MAX_BLOCKS and len(message.text) <= MAX_TEXT
    for block in message.blocks:
        for text in [block.get("text", {}).get("text", "")] + [
            e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)
        ]:
            assert len(text) <= MAX_TEXT
    footer = json.dumps(message.blocks[-2])
    assert "Read as: What did he say" in footer and LLM_NOTE in footer
    withheld = render_answer(
        llm_answer(mode="extractive", withheld="unsupported_figure"), answer_id="a2"
    )
    assert "withheld (unsupported figure)" in json.dumps(withheld.blocks)


def test_feedback_is_reported_by_mode(store: BotDatabase, slack_settings):
    llm = store.save_answer(llm_answer(), channel="C1", user="U1")
    quoted = store.save_answer(llm_answer(mode="extractive"), channel="C1", user="U1")
    store.record_vote(llm, llm_answer(), user="U1", channel="C1", vote="up")
    store.record_vote(llm, llm_answer(), user="U2", channel="C1", vote="down")
    store.record_vote(quoted, llm_answer(), user="U1", channel="C1", vote="down")
    summary = feedback_summary(slack_settings)
    by_mode = {row.mode: (row.answers, row.up, row.down) for row in summary.by_mode}
    assert by_mode == {"llm": (1, 1, 1), "extractive": (1, 0, 1)}
    from rich.console import Console

    console = Console(width=100, record=True)
    console.print(render_summary(summary))
    assert "LLM (checked)" in console.export_text()


@pytest.mark.slow
def test_a_thread_follow_up_end_to_end(serve_app, answerer, fake_api):
    """The real Bolt app and answerer: the follow-up is read with the thread's referent."""
    running = serve_app(answerer)
    mention = app_mention(AMBASSADOR, channel="C5")
    running.slack.event(event_callback(mention))
    fake_api.wait_for("chat.postMessage", 1)
    follow_up = message("What did he say?", channel="C5", thread_ts=mention["ts"])
    running.slack.event(event_callback(follow_up))
    reply = fake_api.wait_for("chat.postMessage", 2)[-1].body
    assert reply["thread_ts"] == mention["ts"]
    assert "Read as: What did Russia's ambassador in Venezuela say?" in json.dumps(reply["blocks"])


@pytest.mark.slow
def test_what_did_he_say_is_answered_with_the_ambassadors_denial(serve_app, answerer, fake_api):
    """A thread follow-up is read with its thread, with the pipeline as shipped."""
    running = serve_app(answerer)
    mention = app_mention(AMBASSADOR, channel="C6")
    running.slack.event(event_callback(mention))
    fake_api.wait_for("chat.postMessage", 1)
    running.slack.event(
        event_callback(message("What did he say?", channel="C6", thread_ts=mention["ts"]))
    )
    text = fake_api.wait_for("chat.postMessage", 2)[-1].body["text"]
    assert "absolutely false" in text or "no question of any reductions" in text, text


@pytest.mark.slow
def test_a_thread_follow_up_with_an_llm_end_to_end(serve_app, baseline_pipeline, fake_api):
    """Real Bolt app, real answerer, fake OpenAI-compatible LLM: the follow-up is condensed, the
    answer streams into a placeholder and ends as the checked answer with its citations."""
    from factdesk.answer.llm import LLM
    from factdesk.config import Settings
    from tests.conftest import with_llm
    from tests.fake_llm import FakeLLM, Reply
    from tests.test_llm import passage_holding

    def denial(request) -> str:
        n = passage_holding(request, "absolutely false")
        return (
            f'Russia\'s ambassador in Venezuela denied the reports as "absolutely false" [{n}]. '
            f"Ambassador Vladimir Zayemsky said there is no question of any reductions [{n}]."
        )

    with FakeLLM() as llm:
        llm.condense = Reply("What did Russia's ambassador in Venezuela say about the reports?")
        llm.reply_with(Reply("NOT IN PASSAGES"), Reply(denial))
        settings = Settings(_env_file=None, llm_url=llm.url, llm_model="m", llm_timeout=60)
        running = serve_app(with_llm(baseline_pipeline, LLM(settings)))
        mention = app_mention(AMBASSADOR, channel="C8")
        running.slack.event(event_callback(mention))
        fake_api.wait_for("chat.update", 1)  # the first question: placeholder, then its answer
        running.slack.event(
            event_callback(message("What did he say?", channel="C8", thread_ts=mention["ts"]))
        )
        final = fake_api.wait_for("chat.update", 3)[-1].body
    placeholders = [p for p in fake_api.posted() if p["text"] == WRITING]
    assert len(placeholders) == 2 and all(p["thread_ts"] == mention["ts"] for p in placeholders)
    assert "absolutely false" in final["text"] and "no question of any reductions" in final["text"]
    blocks = json.dumps(final["blocks"])
    assert LLM_NOTE in blocks and "factdesk_vote_up" in blocks and "Read as:" in blocks
    condense = next(r for r in llm.requests if "standalone question" in r.prompt)
    assert f"Human: {AMBASSADOR}" in condense.prompt
