"""What every long-running factdesk server shares (the Slack bot, `factdesk serve`, `factdesk
mcp`): logging with its secrets redacted, and stopping on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import logging
import re
import signal
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    """Replaces the given secrets, and whatever `pattern` matches, in every record a handler
    emits (its message, arguments and traceback)."""

    def __init__(self, secrets: Iterable[str], pattern: re.Pattern[str] | None = None) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if secret]
        self._pattern = pattern

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return self._pattern.sub(REDACTED, text) if self._pattern else text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        return True


def keep_out_of_logs(level: str, redaction: logging.Filter) -> None:
    """Make sure logging is set up (at `level`, on stderr), and that none of its handlers can
    print what `redaction` removes."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    for handler in root.handlers:
        handler.addFilter(redaction)


@contextmanager
def on_stop_signals(handler: Callable[..., None]) -> Iterator[None]:
    """SIGTERM and SIGINT call `handler` inside the block; the handlers found are put back."""
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, found in previous.items():
            signal.signal(sig, found)
