"""An answer being written, shown in Slack: a placeholder message updated as text arrives.

Slack allows about one `chat.update` a second per message before it rate-limits, so updates are
spaced at least `interval` seconds apart; text arriving in between waits for the next update or
for the final answer, which replaces the draft whatever happened to it. An update that fails is
logged and skipped: the draft is a courtesy, the final answer is what matters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from factdesk.slack.blocks import draft

logger = logging.getLogger(__name__)


class DraftUpdater:
    """Receives text pieces (`on_text`) and shows their sum in the placeholder, throttled."""

    def __init__(
        self,
        client: WebClient,
        channel: str,
        ts: str,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.text = ""
        self.updates = 0
        self._client = client
        self._channel = channel
        self._ts = ts
        self._interval = interval
        self._clock = clock
        self._last = float("-inf")

    def __call__(self, piece: str) -> None:
        self.text += piece
        now = self._clock()
        if now - self._last < self._interval:
            return
        self._last = now
        message = draft(self.text)
        try:
            self._client.chat_update(
                channel=self._channel, ts=self._ts, text=message.text, blocks=message.blocks
            )
            self.updates += 1
        except SlackApiError as exc:
            logger.warning("Could not update a draft answer: %s", exc.response.get("error"))
