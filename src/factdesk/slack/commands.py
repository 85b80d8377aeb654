"""`/factdesk QUESTION`: an answer only the asker sees, and a button to share it with the channel
(`/factdesk sources`, `add` and `remove` are slack/desks.py's).

The private answer goes through the command's `response_url`, which works in every conversation
the command can be used in; sharing posts a regular message (so it gets feedback buttons and a
thread for follow-ups) and then deletes the private copy.
"""

from __future__ import annotations

from logging import Logger

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from factdesk.slack.blocks import GONE, render_answer
from factdesk.slack.markup import to_plain
from factdesk.slack.replies import Replier

COMMAND = "/factdesk"
USAGE = (
    "Usage: `/factdesk QUESTION`, for example `/factdesk how many advisers remain?`; "
    "`/factdesk sources` shows what this channel's desk reads."
)
CANNOT_POST = (
    "I can't post in this conversation. Invite me first (`/invite @factdesk`), then try again."
)


def handle_command(ack: Ack, command: dict, respond: Respond, replier: Replier) -> None:
    """Acknowledge at once, then answer privately with a "Post to channel" button."""
    question = to_plain(command.get("text", ""))
    if not question:
        ack(text=USAGE)
        return
    ack()
    message = replier.compose(
        question, channel=command["channel_id"], user=command["user_id"], shareable=True
    )
    respond(text=message.text, blocks=message.blocks, response_type="ephemeral")


def handle_share(
    ack: Ack,
    body: dict,
    action: dict,
    client: WebClient,
    respond: Respond,
    replier: Replier,
    logger: Logger,
) -> None:
    """Post a privately answered question to the channel, then remove the private copy."""
    ack()
    stored = replier.database.load_answer(action["value"])
    if stored is None:
        respond(text=GONE, response_type="ephemeral", replace_original=False)
        return
    channel, user = body["channel"]["id"], body["user"]["id"]
    answer_id = replier.database.save_answer(
        stored.answer, channel=channel, user=stored.user, shared_by=user
    )
    message = render_answer(stored.answer, answer_id=answer_id, shared_by=user)
    try:
        posted = client.chat_postMessage(channel=channel, text=message.text, blocks=message.blocks)
    except SlackApiError as exc:
        logger.warning("Could not share an answer in %s: %s", channel, exc.response.get("error"))
        respond(text=CANNOT_POST, response_type="ephemeral", replace_original=False)
        return
    replier.memory.remember_thread(channel, posted["ts"])
    respond(delete_original=True)
