"""The handlers called directly, as Bolt would call them, with a real WebClient on the fake API."""

import logging

import pytest
from fakes.slack import BOT_ID, BOT_USER_ID
from fakes.slack_payloads import app_mention, block_actions, message, slash_command
from slack_bolt import Ack, Respond

from factdesk.answer.answers import NOT_FOUND
from factdesk.errors import QuestionError, StoreUnavailableError
from factdesk.slack.blocks import APOLOGY, SHARE, VOTE_DOWN, VOTE_UP
from factdesk.slack.commands import CANNOT_POST, USAGE, handle_command, handle_share
from factdesk.slack.events import handle_app_mention, handle_message
from factdesk.slack.feedback import handle_vote
from factdesk.slack.replies import HOW_TO_ASK


def test_a_mention_is_answered_in_a_thread_under_it(replier, client, context, fake_api):
    event = app_mention("how many advisers remain?", channel="C9")
    handle_app_mention(event=event, client=client, context=context, replier=replier)
    (reply,) = fake_api.posted()
    assert (reply["channel"], reply["thread_ts"]) == ("C9", event["ts"])
    assert "few dozen" in reply["text"]
    assert replier.answerer.questions == ["how many advisers remain?"]
    assert replier.database.is_bot_thread("C9", event["ts"])


def test_a_mention_inside_a_thread_is_answered_in_that_thread(replier, client, context, fake_api):
    event = app_mention("how many advisers?", thread_ts="1600000000.000100")
    handle_app_mention(event=event, client=client, context=context, replier=replier)
    assert fake_api.posted()[0]["thread_ts"] == "1600000000.000100"


def test_a_bare_mention_gets_a_hint(replier, client, context, fake_api):
    event = app_mention("")
    handle_app_mention(event=event, client=client, context=context, replier=replier)
    assert fake_api.posted()[0]["text"] == HOW_TO_ASK
    assert replier.answerer.questions == []


def test_nothing_relevant_is_said_plainly(replier, client, context, fake_api):
    handle_app_mention(
        event=app_mention("who won the cup?"), client=client, context=context, replier=replier
    )
    assert fake_api.posted()[0]["text"] == NOT_FOUND


@pytest.mark.parametrize(
    "failure",
    [StoreUnavailableError("Chroma at db:8000 is down"), RuntimeError("bug"), OSError("disk")],
)
def test_failures_become_an_apology_in_the_thread_and_a_log_entry(
    replier, client, context, fake_api, caplog, failure
):
    replier.answerer.failure = failure
    event = app_mention("how many advisers?")
    with caplog.at_level(logging.ERROR, logger="factdesk.slack"):
        handle_app_mention(event=event, client=client, context=context, replier=replier)
    (reply,) = fake_api.posted()
    assert reply["text"] == APOLOGY and reply["thread_ts"] == event["ts"]
    assert "db:8000" not in reply["text"]
    (record,) = caplog.records
    assert "how many advisers?" in record.getMessage() and record.exc_info[1] is failure


def test_the_app_answers_again_once_the_fault_is_gone(replier, client, context, fake_api):
    replier.answerer.failure = StoreUnavailableError("down")
    handle_app_mention(
        event=app_mention("advisers?"), client=client, context=context, replier=replier
    )
    replier.answerer.failure = None
    handle_app_mention(
        event=app_mention("advisers?"), client=client, context=context, replier=replier
    )
    assert [reply["text"] == APOLOGY for reply in fake_api.posted()] == [True, False]


def test_a_question_error_is_shown_to_the_asker(replier, client, context, fake_api):
    replier.answerer.failure = QuestionError("The question is too long.")
    handle_app_mention(
        event=app_mention("advisers"), client=client, context=context, replier=replier
    )
    assert fake_api.posted()[0]["text"] == "The question is too long."


def test_a_direct_message_is_answered_in_the_dm(replier, client, context, fake_api):
    event = message("how many advisers remain?", channel="D1", channel_type="im")
    handle_message(event=event, client=client, context=context, replier=replier)
    (reply,) = fake_api.posted()
    assert reply["channel"] == "D1" and "thread_ts" not in reply


def test_a_follow_up_in_a_thread_the_bot_answered_needs_no_mention(
    replier, client, context, fake_api
):
    question = app_mention("how many advisers?")
    handle_app_mention(event=question, client=client, context=context, replier=replier)
    follow_up = message("and how many advisers were there before?", thread_ts=question["ts"])
    handle_message(event=follow_up, client=client, context=context, replier=replier)
    replies = fake_api.posted()
    assert len(replies) == 2 and replies[1]["thread_ts"] == question["ts"]


def test_a_thank_you_in_the_bots_thread_gets_no_reply(replier, client, context, fake_api):
    question = app_mention("how many advisers?")
    handle_app_mention(event=question, client=client, context=context, replier=replier)
    for text in ("thanks!", "great, that helps", "ok"):
        thanks = message(text, thread_ts=question["ts"])
        handle_message(event=thanks, client=client, context=context, replier=replier)
    assert len(fake_api.posted()) == 1


def test_channel_messages_outside_the_bots_threads_are_ignored(replier, client, context, fake_api):
    for event in (
        message("how many advisers?"),
        message("how many advisers?", thread_ts="1600000000.000200"),
    ):
        handle_message(event=event, client=client, context=context, replier=replier)
    assert fake_api.posted() == []


@pytest.mark.parametrize(
    "event",
    [
        message("advisers?", channel_type="im", bot_id="B2"),
        message("advisers?", channel_type="im", subtype="bot_message"),
        message("advisers?", channel_type="im", user=BOT_USER_ID, bot_id=BOT_ID),
        message("advisers?", channel_type="im", subtype="message_changed"),
        message("advisers?", channel_type="im", subtype="message_deleted"),
        message("advisers?", channel_type="im", subtype="channel_join"),
    ],
)
def test_bots_edits_deletions_and_other_subtypes_are_ignored(
    replier, client, context, fake_api, event
):
    handle_message(event=event, client=client, context=context, replier=replier)
    assert fake_api.posted() == []


def test_mentions_by_bots_are_ignored(replier, client, context, fake_api):
    event = app_mention("advisers?", bot_id="B2")
    handle_app_mention(event=event, client=client, context=context, replier=replier)
    assert fake_api.posted() == []


def test_a_mention_that_also_arrives_as_a_message_is_answered_once(
    replier, client, context, fake_api
):
    first = app_mention("how many advisers?")
    handle_app_mention(event=first, client=client, context=context, replier=replier)
    mention = app_mention("and before?", thread_ts=first["ts"])
    same = message(mention["text"], ts=mention["ts"], thread_ts=first["ts"])
    handle_message(event=same, client=client, context=context, replier=replier)
    handle_app_mention(event=mention, client=client, context=context, replier=replier)
    assert len(fake_api.posted()) == 2


def test_the_slash_command_answers_privately_with_a_share_button(replier, fake_api):
    ack = Ack()
    command = slash_command("how many advisers remain?", fake_api.response_url())
    handle_command(
        ack=ack,
        command=command,
        respond=Respond(response_url=command["response_url"]),
        replier=replier,
    )
    assert ack.response.status == 200 and ack.response.body == ""
    (response,) = [call.body for call in fake_api.calls_to("response_url")]
    assert response["response_type"] == "ephemeral" and "few dozen" in response["text"]
    buttons = response["blocks"][-1]["elements"]
    assert [b["action_id"] for b in buttons] == [VOTE_UP, VOTE_DOWN, SHARE]


def test_the_slash_command_without_a_question_shows_usage(replier, fake_api):
    ack = Ack()
    handle_command(ack=ack, command=slash_command("  ", "unused"), respond=None, replier=replier)
    assert USAGE in ack.response.body
    assert fake_api.calls == []


def share(replier, client, fake_api, answer_id: str, channel: str = "C1") -> Ack:
    ack = Ack()
    body = block_actions(
        SHARE, answer_id, fake_api.response_url("share"), channel=channel, ephemeral=True
    )
    handle_share(
        ack=ack,
        body=body,
        action=body["actions"][0],
        client=client,
        respond=Respond(response_url=body["response_url"]),
        replier=replier,
        logger=logging.getLogger("test"),
    )
    return ack


def test_sharing_posts_the_answer_publicly_and_deletes_the_private_copy(replier, client, fake_api):
    answer = replier.answerer.answer("how many advisers remain?")
    answer_id = replier.database.save_answer(answer, channel="C1", user="U1")
    ack = share(replier, client, fake_api, answer_id)
    assert ack.response.status == 200
    (public,) = fake_api.posted()
    assert public["channel"] == "C1" and "few dozen" in public["text"]
    assert "Shared by <@U1> with /factdesk" in str(public["blocks"])
    assert SHARE not in str(public["blocks"])
    assert [call.body for call in fake_api.calls_to("response_url")] == [
        {"text": "", "delete_original": True}
    ]
    # Follow-ups in the shared answer's thread (ts as the fake API gave it) need no mention.
    assert replier.database.is_bot_thread("C1", "1700000000.000001")


def test_sharing_where_the_bot_cannot_post_says_how_to_fix_it(replier, client, fake_api):
    answer = replier.answerer.answer("how many advisers remain?")
    answer_id = replier.database.save_answer(answer, channel="G1", user="U1")
    fake_api.refuse_once("chat.postMessage", "not_in_channel")
    share(replier, client, fake_api, answer_id, channel="G1")
    (response,) = [call.body for call in fake_api.calls_to("response_url")]
    assert response["text"] == CANNOT_POST and response["response_type"] == "ephemeral"
    assert response["replace_original"] is False


def test_sharing_an_unknown_answer_says_so(replier, client, fake_api):
    share(replier, client, fake_api, "gone")
    (response,) = [call.body for call in fake_api.calls_to("response_url")]
    assert "no longer available" in response["text"]
    assert fake_api.posted() == []


def vote(replier, client, fake_api, action_id, answer_id, *, user="U1", ephemeral=False) -> Ack:
    ack = Ack()
    body = block_actions(
        action_id, answer_id, fake_api.response_url("vote"), user=user, ephemeral=ephemeral
    )
    handle_vote(
        ack=ack,
        body=body,
        action=body["actions"][0],
        client=client,
        respond=Respond(response_url=body["response_url"]),
        replier=replier,
    )
    return ack


def test_a_vote_is_recorded_and_the_message_updated(replier, client, fake_api):
    answer = replier.answerer.answer("how many advisers remain?")
    answer_id = replier.database.save_answer(answer, channel="C1", user="U1")
    vote(replier, client, fake_api, VOTE_DOWN, answer_id, user="U1")
    vote(replier, client, fake_api, VOTE_UP, answer_id, user="U2")
    updates = [call.body for call in fake_api.calls_to("chat.update")]
    assert [(u["channel"], u["ts"]) for u in updates] == [("C1", "1700000000.000001")] * 2
    assert "👍 1 · 👎 1" in str(updates[-1]["blocks"][-1])
    assert replier.database.summarize().down == 1


def test_a_vote_on_a_private_answer_updates_it_through_the_response_url(replier, client, fake_api):
    answer = replier.answerer.answer("how many advisers remain?")
    answer_id = replier.database.save_answer(answer, channel="C1", user="U1")
    vote(replier, client, fake_api, VOTE_UP, answer_id, ephemeral=True)
    (response,) = [call.body for call in fake_api.calls_to("response_url")]
    assert response["replace_original"] is True
    assert SHARE in str(response["blocks"])
    assert fake_api.calls_to("chat.update") == []
    assert replier.database.summarize().up == 1
