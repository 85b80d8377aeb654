"""HTTP mode end to end: signed requests in, real answers out through the fake Web API."""

import json
import sqlite3

import pytest
from fakes.slack_payloads import (
    ACK_SECONDS,
    app_mention,
    block_actions,
    event_callback,
    message,
    slash_command,
)

from factdesk.slack.blocks import APOLOGY, SHARE, VOTE_DOWN
from factdesk.slack.database import database_path

pytestmark = pytest.mark.slow

QUESTION = "How many advisers remain?"


@pytest.fixture
def running(serve_app, answerer):
    return serve_app(answerer)


def ask(running, text: str, **event_fields):
    """Mention the bot in a channel; returns the event and Slack's view of the ack."""
    event = app_mention(text, **event_fields)
    return event, running.slack.event(event_callback(event))


def answer_id_of(posted: dict) -> str:
    (actions,) = [block for block in posted["blocks"] if block["type"] == "actions"]
    return actions["elements"][0]["value"]


def test_a_mention_is_acknowledged_at_once_then_answered_in_its_thread(running, fake_api):
    event, reply = ask(running, QUESTION, channel="C42")
    assert reply.status == 200 and reply.seconds < ACK_SECONDS
    (posted,) = fake_api.wait_for("chat.postMessage")
    assert posted.body["channel"] == "C42"
    assert posted.body["thread_ts"] == event["ts"]
    assert "few dozen" in posted.body["text"] and "[1]" in posted.body["text"]
    lead = posted.body["blocks"][0]["text"]["text"]
    assert "few dozen" in lead and lead.endswith("*[1]*")  # the sentence, its answer in bold
    assert posted.body["blocks"][1]["text"]["text"].startswith("*[1]* ")


def test_a_retried_event_is_answered_once(running, fake_api):
    event = event_callback(app_mention(QUESTION))
    assert running.slack.event(event).status == 200
    retry = running.slack.event(event, X_Slack_Retry_Num="1", X_Slack_Retry_Reason="http_timeout")
    assert retry.status == 200
    running.drain()
    assert len(fake_api.calls_to("chat.postMessage")) == 1


def test_a_direct_message_is_answered_in_the_dm(running, fake_api):
    event = message(QUESTION, channel="D7", channel_type="im")
    assert running.slack.event(event_callback(event)).status == 200
    (posted,) = fake_api.wait_for("chat.postMessage")
    assert posted.body["channel"] == "D7" and "thread_ts" not in posted.body
    assert "few dozen" in posted.body["text"]


def test_a_follow_up_in_the_thread_is_answered_without_a_mention(running, fake_api):
    question, _ = ask(running, QUESTION)
    fake_api.wait_for("chat.postMessage")
    follow_up = message("How many advisers were there before?", thread_ts=question["ts"])
    elsewhere = message("How many advisers?", thread_ts="1600000000.000300")
    for event in (follow_up, elsewhere):
        assert running.slack.event(event_callback(event)).status == 200
    running.drain()
    replies = fake_api.calls_to("chat.postMessage")
    assert [reply.body["thread_ts"] for reply in replies] == [question["ts"]] * 2
    assert APOLOGY not in replies[1].body["text"]  # an answer (or a decline), not an apology


def test_a_mention_also_delivered_as_a_message_is_answered_once(running, fake_api):
    event, _ = ask(running, QUESTION)
    same = message(event["text"], ts=event["ts"])
    assert running.slack.event(event_callback(same)).status == 200
    running.drain()
    assert len(fake_api.calls_to("chat.postMessage")) == 1


def test_the_slash_command_answers_privately_and_shares_on_request(running, fake_api):
    command = slash_command(QUESTION, fake_api.response_url("command"), channel="C5")
    reply = running.slack.form(command)
    assert reply.status == 200 and reply.seconds < ACK_SECONDS
    (private,) = fake_api.wait_for("response_url")
    assert private.body["response_type"] == "ephemeral"
    assert "few dozen" in private.body["text"]

    click = block_actions(
        SHARE,
        answer_id_of(private.body),
        fake_api.response_url("share"),
        channel="C5",
        ephemeral=True,
    )
    assert running.slack.action(click).status == 200
    (public,) = fake_api.wait_for("chat.postMessage")
    assert public.body["channel"] == "C5" and "few dozen" in public.body["text"]
    assert "thread_ts" not in public.body
    fake_api.wait_for("response_url", count=2)
    running.drain()
    assert fake_api.calls_to("response_url")[1].body == {"text": "", "delete_original": True}


def test_a_feedback_click_is_recorded_and_shown(running, fake_api, slack_settings):
    ask(running, QUESTION, channel="C3")
    (posted,) = fake_api.wait_for("chat.postMessage")
    click = block_actions(
        VOTE_DOWN,
        answer_id_of(posted.body),
        fake_api.response_url("vote"),
        channel="C3",
        message_ts="1700000000.000001",
        user="U9",
    )
    reply = running.slack.action(click)
    assert reply.status == 200 and reply.seconds < ACK_SECONDS
    (update,) = fake_api.wait_for("chat.update")
    assert (update.body["channel"], update.body["ts"]) == ("C3", "1700000000.000001")
    assert "Feedback received" in json.dumps(update.body["blocks"], ensure_ascii=False)
    with sqlite3.connect(database_path(slack_settings)) as db:
        rows = db.execute("SELECT user, channel, vote, question, answer, sources FROM votes")
        ((user, channel, vote, question, answer, sources),) = rows.fetchall()
    assert (user, channel, vote, question) == ("U9", "C3", "down", QUESTION)
    assert "few dozen" in answer and "000_d17e3c436e124a59" in sources


def test_a_question_with_a_channel_ping_cannot_make_the_bot_ping(running, fake_api):
    ask(running, f"<!channel> <!here> {QUESTION}")
    (posted,) = fake_api.wait_for("chat.postMessage")
    sent = json.dumps(posted.body)
    assert "<!channel>" not in sent and "<!here>" not in sent
    assert posted.body["text"] and APOLOGY not in posted.body["text"]  # it was answered


def test_a_rate_limited_post_is_retried_and_delivered_once(running, fake_api):
    fake_api.rate_limit_once("chat.postMessage")
    ask(running, QUESTION)
    fake_api.wait_for("chat.postMessage")
    running.drain()
    statuses = [call.status for call in fake_api.calls_to("chat.postMessage", status=None)]
    assert statuses == [429, 200]


def test_a_post_failing_with_a_server_error_is_retried_and_delivered_once(running, fake_api):
    fake_api.refuse_once("chat.postMessage", "internal_error", status=503)
    ask(running, QUESTION)
    fake_api.wait_for("chat.postMessage")
    running.drain()
    statuses = [call.status for call in fake_api.calls_to("chat.postMessage", status=None)]
    assert statuses == [503, 200]


def test_bot_messages_and_edits_in_the_bots_thread_are_ignored(running, fake_api):
    question, _ = ask(running, QUESTION)
    fake_api.wait_for("chat.postMessage")
    for event in (
        message("bot says advisers", thread_ts=question["ts"], bot_id="BBOT", user="UBOT"),
        message("another bot", thread_ts=question["ts"], bot_id="B2"),
        message("edit", thread_ts=question["ts"], subtype="message_changed"),
        message("gone", thread_ts=question["ts"], subtype="message_deleted"),
    ):
        assert running.slack.event(event_callback(event)).status == 200
    running.drain()
    assert len(fake_api.calls_to("chat.postMessage")) == 1
