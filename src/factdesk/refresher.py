"""Every desk's sources fetched and indexed again on a schedule (FACTDESK_REFRESH_MINUTES), by
the desk manager, while the Slack bot runs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from factdesk.config import Settings
from factdesk.desk_manager import DeskManager

logger = logging.getLogger("factdesk.desks")


class Refresher:
    """Refreshes every desk with sources each `minutes`, on the boundaries of the clock (every
    replica wakes at the same moments); for each boundary and desk, only the replica that
    claims it in the shared memory (SQLite on one host, Redis across hosts) fetches and indexes.
    A claim outlives the few seconds replicas' clocks disagree by (see slack/database.py,
    SEEN_SECONDS)."""

    def __init__(
        self, manager: DeskManager, minutes: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.manager = manager
        self.period = minutes * 60
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="factdesk-refresh", daemon=True)

    def start(self) -> Refresher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while True:
            slot = int(self._clock() // self.period) + 1
            if self._stop.wait(max(0.0, slot * self.period - self._clock())):
                return
            try:
                self.run_slot(slot)
            except Exception:  # the next slot tries again
                logger.exception("Refreshing the desks failed")

    def run_slot(self, slot: int) -> list[str]:
        """Refresh the desks this replica claims for `slot`; the desks it refreshed."""
        refreshed = []
        for desk in self.manager.names:
            if not self.manager.has_sources(desk):
                continue
            if self.manager.memory.first_time(f"refresh:{desk}:{slot}"):
                try:
                    self.manager.refresh(desk).result()
                except Exception:  # the other desks of the slot are still refreshed
                    logger.exception("Refreshing desk %s failed", desk)
                    continue
                refreshed.append(desk)
        return refreshed


def start_refresher(settings: Settings, manager: DeskManager) -> Refresher | None:
    """The schedule of FACTDESK_REFRESH_MINUTES (None when it is 0: cron runs
    `factdesk index --desk NAME` instead)."""
    if settings.refresh_minutes <= 0:
        return None
    return Refresher(manager, settings.refresh_minutes).start()
