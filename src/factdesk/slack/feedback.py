"""👍 / 👎 on answers: recording a click, and the summary `factdesk feedback` prints.

A vote is one per person and answer (a second click changes it). The answer is re-rendered from
what was stored when it was posted, with a line showing the tally, so the message itself shows
that the feedback arrived; buttons stay, so everyone in a channel can vote.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from factdesk.config import Settings
from factdesk.slack.blocks import GONE, VOTE_UP, render_answer
from factdesk.slack.database import BotDatabase, FeedbackSummary, Vote, database_path
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


def summarize(settings: Settings, limit: int = 10) -> FeedbackSummary:
    """Totals and the `limit` questions with the most 👎, from the database beside the index."""
    path = database_path(settings)
    if not path.exists():
        return FeedbackSummary(answers=0, up=0, down=0, most_down=[])
    return BotDatabase(path).summarize(limit)


def render_summary(summary: FeedbackSummary) -> RenderableType:
    """The summary as rich renders it: a totals line, then the least helpful questions."""
    totals: RenderableType = Text(
        f"{summary.answers} answers posted · {summary.up} 👍 · {summary.down} 👎"
    )
    modes = Table(title="By mode", title_justify="left")
    modes.add_column("Mode")
    modes.add_column("Answers", justify="right")
    modes.add_column("👍", justify="right")
    modes.add_column("👎", justify="right")
    for mode in summary.by_mode:
        label = "LLM (checked)" if mode.mode == "llm" else mode.mode
        modes.add_row(label, str(mode.answers), str(mode.up), str(mode.down))
    if summary.by_mode:
        totals = Group(totals, modes)
    if not summary.most_down:
        return Group(totals, Text("No 👎 so far."))
    table = Table(title="Questions with the most 👎", title_justify="left")
    table.add_column("👎", justify="right")
    table.add_column("👍", justify="right")
    table.add_column("Question")
    for row in summary.most_down:
        table.add_row(str(row.down), str(row.up), Text(row.question))
    return Group(totals, table)
