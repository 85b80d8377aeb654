"""HTTP mode: the Events API, slash commands and button clicks, all POSTed to `/slack/events`.

A thin adapter from the standard library's threading HTTP server to `App.dispatch`: Bolt checks
the signature, answers `url_verification` and acknowledges; the answer itself is computed on
Bolt's worker threads after the response has gone back to Slack. The adapter's own job is the
transport: one path, POST only, and no body over 1 MB is read, let alone handed to a handler.
"""

from __future__ import annotations

import logging
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slack_bolt import App, BoltRequest

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1024 * 1024


class SlackHTTPServer(ThreadingHTTPServer):
    """Serves one Bolt app; each request gets its own thread, so a slow one blocks no other.

    The listen backlog is the kernel's maximum rather than socketserver's 5: with a burst of
    events (20 senders at once in benchmarks/load.py) connections beyond the backlog are dropped
    and only retried by the sender's TCP a second later, eating into Slack's 3-second ack.
    """

    daemon_threads = True
    request_queue_size = socket.SOMAXCONN

    def __init__(self, app: App, address: tuple[str, int]) -> None:
        super().__init__(address, _SlackRequestHandler)
        self.app = app


def serve(app: App, *, port: int, host: str = "0.0.0.0") -> None:
    """Serve until interrupted."""
    with SlackHTTPServer(app, (host, port)) as server:
        logger.info("Listening for Slack on http://%s:%d%s", host, server.server_port, EVENTS_PATH)
        server.serve_forever()


class _SlackRequestHandler(BaseHTTPRequestHandler):
    server: SlackHTTPServer

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        if path != EVENTS_PATH:
            self._reply(404, b"not found")
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self._reply(411, b"length required")
            return
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            self._reply(413, b"request body too large")
            return
        try:
            body = self.rfile.read(int(length)).decode("utf-8")
        except UnicodeDecodeError:
            self._reply(400, b"request body is not UTF-8")
            return
        headers = {name.lower(): self.headers.get_all(name, []) for name in self.headers}
        response = self.server.app.dispatch(BoltRequest(body=body, query=query, headers=headers))
        self._reply(response.status, response.body.encode("utf-8"), response.headers)

    def _reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, values in (headers or {"content-type": ["text/plain; charset=utf-8"]}).items():
            for value in values:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)
