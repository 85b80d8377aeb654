"""Questions that arrive as events: mentions in channels, direct messages, thread follow-ups.

Bolt acknowledges events before these handlers run, so they may take as long as answering takes.
A mention in a channel also arrives as a `message` event when the app listens to channel
messages; whichever handler takes the message up first answers it, the other sees it was taken.
"""

from __future__ import annotations

import re

from slack_bolt import BoltContext
from slack_sdk import WebClient

from factdesk.slack.markup import to_plain
from factdesk.slack.replies import Replier

# Message subtypes that are someone asking something; edits, deletions, joins and the rest are not.
ANSWERABLE_SUBTYPES = {None, "thread_broadcast", "file_share"}
_QUESTION_START = re.compile(
    r"^(who|whom|whose|what|when|where|which|why|how|is|are|was|were|do|does|did|can|could"
    r"|should|would|will|has|have|had|tell|list|name|explain|describe)\b",
    re.I,
)


def handle_app_mention(
    event: dict, client: WebClient, context: BoltContext, replier: Replier
) -> None:
    """Answer `@factdesk QUESTION` in a thread under the question (or in the thread it is in)."""
    if is_from_bot(event, context.bot_user_id):
        return
    channel, ts = event["channel"], event["ts"]
    if not replier.first_time(channel, ts):
        return
    replier.reply(
        client,
        channel=channel,
        thread_ts=event.get("thread_ts") or ts,
        user=event.get("user"),
        question=to_plain(event.get("text", ""), context.bot_user_id),
    )


def handle_message(event: dict, client: WebClient, context: BoltContext, replier: Replier) -> None:
    """Answer direct messages, and replies in threads the bot has answered in; drop the rest."""
    if event.get("subtype") not in ANSWERABLE_SUBTYPES or is_from_bot(event, context.bot_user_id):
        return
    channel, ts = event["channel"], event["ts"]
    thread_ts = event.get("thread_ts")
    is_dm = event.get("channel_type") == "im"
    question = to_plain(event.get("text", ""), context.bot_user_id)
    is_follow_up = (
        thread_ts is not None
        and thread_ts != ts
        and replier.memory.is_bot_thread(channel, thread_ts)
        and looks_like_question(question)
    )
    if not (is_dm or is_follow_up) or not replier.first_time(channel, ts):
        return
    replier.reply(
        client, channel=channel, thread_ts=thread_ts, user=event.get("user"), question=question
    )


def looks_like_question(text: str) -> bool:
    """A reply in a bot thread is answered only when it asks something: "thanks!" is not."""
    text = text.strip()
    return text.endswith("?") or bool(_QUESTION_START.match(text))


def is_from_bot(event: dict, bot_user_id: str | None) -> bool:
    """Bots, this app included, are never answered: two bots could otherwise talk forever."""
    return (
        "bot_id" in event
        or event.get("subtype") == "bot_message"
        or (bot_user_id is not None and event.get("user") == bot_user_id)
    )
