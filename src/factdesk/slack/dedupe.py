"""Recognising a delivery the bot has already seen, so nothing is ever answered twice.

Slack re-sends an event when it thinks the first delivery failed (`X-Slack-Retry-Num` over HTTP,
`retry_attempt` in Socket Mode, both with the same `event_id`), and one message can arrive as two
events (an `app_mention` and a `message` for the same `ts`). The keys live in memory for an hour,
longer than Slack's last retry (about 30 minutes after the first attempt), so a restart forgets
them; that is the price of never dropping an event the previous process did not get to.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from logging import Logger

from slack_bolt import BoltResponse

DEFAULT_TTL_SECONDS = 3600.0
DEFAULT_MAX_KEYS = 10_000


class SeenKeys:
    """A bounded, expiring set of keys; `first_time` is atomic across threads."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max_keys = max_keys
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        """True the first time a key is offered (within the TTL), False ever after."""
        now = self._clock()
        with self._lock:
            self._forget_older_than(now - self._ttl)
            if key in self._seen:
                return False
            self._seen[key] = now
            if len(self._seen) > self._max_keys:
                self._seen.popitem(last=False)
            return True

    def _forget_older_than(self, cutoff: float) -> None:
        while self._seen:
            key, seen_at = next(iter(self._seen.items()))
            if seen_at > cutoff:
                return
            del self._seen[key]


def message_key(channel: str, ts: str) -> str:
    """The identity of a Slack message, shared by the events that announce it."""
    return f"message:{channel}:{ts}"


def skip_seen_events(seen: SeenKeys) -> Callable[..., BoltResponse | None]:
    """A Bolt middleware that acknowledges, and goes no further with, an event seen before."""

    def skip_seen_event(
        body: dict, next_: Callable[[], None], logger: Logger
    ) -> BoltResponse | None:
        event_id = body.get("event_id")
        if event_id is None or seen.first_time(f"event:{event_id}"):
            return next_()
        logger.info("Skipping event %s: already received", event_id)
        return BoltResponse(status=200, body="")

    return skip_seen_event
