"""Recognising a delivery the bot has already seen, so nothing is ever answered twice.

Slack re-sends an event when it thinks the first delivery failed (`X-Slack-Retry-Num` over HTTP,
`retry_attempt` in Socket Mode, both with the same `event_id`), and one message can arrive as two
events (an `app_mention` and a `message` for the same `ts`). The keys are kept where the bot's
memory is (SQLite beside the index, or Redis for bots on several hosts) for an hour, longer than
Slack goes on retrying: so a retry that reaches a restarted bot, or another bot process, is still
recognised.

The key is taken when the event arrives, before it is acknowledged: a process killed between the
two (a matter of microseconds) would lose that event, a price worth paying against answering
twice, which everyone in the channel sees.
"""

from __future__ import annotations

from collections.abc import Callable
from logging import Logger
from typing import Protocol

from slack_bolt import BoltResponse


class SeenKeys(Protocol):
    """Anything that says, atomically across threads and processes, whether a key is new."""

    def first_time(self, key: str) -> bool: ...


def event_key(event_id: str) -> str:
    """The identity of one event, shared by its retries."""
    return f"event:{event_id}"


def message_key(channel: str, ts: str) -> str:
    """The identity of a Slack message, shared by the events that announce it."""
    return f"message:{channel}:{ts}"


def skip_seen_events(seen: SeenKeys) -> Callable[..., BoltResponse | None]:
    """A Bolt middleware that acknowledges, and goes no further with, an event seen before."""

    def skip_seen_event(
        body: dict, next_: Callable[[], None], logger: Logger
    ) -> BoltResponse | None:
        event_id = body.get("event_id")
        if event_id is None or seen.first_time(event_key(event_id)):
            next_()
            return None
        logger.info("Skipping event %s: already received", event_id)
        return BoltResponse(status=200, body="")

    return skip_seen_event
