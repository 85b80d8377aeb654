"""Whether the bot can answer now: what `GET /healthz` reports in HTTP mode.

Not ready while the model and the index load, while the store (or Redis) cannot be reached,
after Slack has refused the bot token, and once shutting down. A load balancer or an orchestrator
reads it to send Slack's requests elsewhere, or to restart the bot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

Probe = tuple[str, Callable[[], None]]  # what is checked, and a call that raises when it is down

LOADING = "loading the model and the index"
STOPPING = "shutting down"


class Health:
    """The bot's state, set by whoever learns something about it; safe to share between
    threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._probes: list[Probe] = []
        self._loaded = False
        self._stopping = False
        self._refused: str | None = None

    def loaded(self, probes: Sequence[Probe] = ()) -> None:
        """The model and the index are loaded; from now on, `probes` are run at every check."""
        with self._lock:
            self._probes = list(probes)
            self._loaded = True

    def refuse(self, error: str) -> None:
        """Slack refused the bot token (`invalid_auth`, `account_inactive` ...): nothing the bot
        posts will arrive until someone changes it, so the bot stays unhealthy."""
        with self._lock:
            self._refused = error

    def stopping(self) -> None:
        with self._lock:
            self._stopping = True

    def problem(self) -> str | None:
        """Why the bot cannot answer now, or None when it can. Runs the probes (a round trip to
        the store), so call it off the event loop."""
        with self._lock:
            refused, stopping, loaded = self._refused, self._stopping, self._loaded
            probes = list(self._probes)
        if refused is not None:
            return f"Slack refused the bot token ({refused})"
        if stopping:
            return STOPPING
        if not loaded:
            return LOADING
        for name, probe in probes:
            try:
                probe()
            except Exception as exc:
                return f"cannot reach {name}: {_short(exc)}"
        return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
