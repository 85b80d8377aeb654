"""👍 / 👎 on answers: recording a click.

A vote is one per person and answer (a second click changes it). The answer is re-rendered from
what was stored when it was posted, with a line showing the tally, so the message itself shows
that the feedback arrived; buttons stay, so everyone in a channel can vote.
"""

from __future__ import annotations

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from factdesk.slack.blocks import GONE, VOTE_UP, render_answer
from factdesk.slack.database import Vote
from factdesk.slack.replies import Replier


def handle_vote(
    ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond, replier: Replier
) -> None:
    """Record the vote, then update the answer to show it was received."""
    ack()
    answer_id = action["value"]
    stored = replier.database.load_answer(answer_id)
    if stored is None:
        respond(text=GONE, response_type="ephemeral", replace_original=False)
        return
    vote: Vote = "up" if action["action_id"] == VOTE_UP else "down"
    channel = body["channel"]["id"]
    votes = replier.database.record_vote(
        answer_id, stored.answer, user=body["user"]["id"], channel=channel, vote=vote
    )
    container = body.get("container", {})
    private = bool(container.get("is_ephemeral"))
    message = render_answer(
        stored.answer,
        answer_id=answer_id,
        shareable=private,
        shared_by=stored.shared_by,
        votes=votes,
    )
    if private:
        # Ephemeral messages can only be changed through the interaction's response_url.
        respond(text=message.text, blocks=message.blocks, replace_original=True)
    else:
        client.chat_update(
            channel=channel, ts=container["message_ts"], text=message.text, blocks=message.blocks
        )
