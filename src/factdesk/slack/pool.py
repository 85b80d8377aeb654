"""The threads answers are computed on, and waiting for them when the bot stops.

Bolt acknowledges a request, then runs its handler on the app's listener executor; this is that
executor, which also knows what it has been given, so that a stopping bot can let the answers
in flight (and those acknowledged but not yet started) finish before it exits. Slack does not
re-send an event it has seen acknowledged: an answer dropped at shutdown is lost for good.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

SHUTDOWN_SECONDS = 10.0  # how long a stopping bot waits for answers in flight
WORKERS = 5  # Bolt's own default


class AnswerPool(ThreadPoolExecutor):
    """A ThreadPoolExecutor that can be drained within a time limit."""

    def __init__(self, workers: int = WORKERS) -> None:
        super().__init__(max_workers=workers, thread_name_prefix="factdesk-answer")
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future = super().submit(fn, *args, **kwargs)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def drain(self, timeout: float = SHUTDOWN_SECONDS) -> int:
        """Take no more work, and wait up to `timeout` seconds for the work taken; returns how
        many tasks had not finished by then. Those not started by then are dropped; one still
        running cannot be interrupted, and is finished as the interpreter exits (an LLM answer
        gives up after FACTDESK_LLM_TIMEOUT)."""
        self.shutdown(wait=False)
        with self._lock:
            pending = set(self._pending)
        _, not_done = wait(pending, timeout)
        if not_done:
            self.shutdown(wait=False, cancel_futures=True)
        return len(not_done)

    def settle(self) -> None:
        """Wait for the work taken so far, and keep taking more (tests wait on this rather
        than on a clock)."""
        with self._lock:
            pending = set(self._pending)
        wait(pending)
