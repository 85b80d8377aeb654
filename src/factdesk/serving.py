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


def uvicorn_config(
    app: object, host: str, port: int, shutdown: float, connections: int | None = None
):
    """uvicorn's settings for a factdesk server: our logging (secrets redacted), no access log
    (it would name every question's client), a graceful stop that waits `shutdown` seconds for
    the answers in flight, and at most `connections` at once."""
    import uvicorn

    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=round(shutdown),
        timeout_keep_alive=5,
        limit_concurrency=connections,
    )
