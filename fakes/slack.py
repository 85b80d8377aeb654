"""A local stand-in for Slack, so the real slack_bolt and slack_sdk code runs end to end offline.

`FakeSlackAPI` is the Web API (and the `response_url` endpoint): an HTTP server on a free loopback
port that answers the methods the bot uses and records every call. `FakeSocketMode` is the
Socket Mode websocket server that `apps.connections.open` points the app at.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

BOT_TOKEN = "xoxb-1111-2222-faketoken"
APP_TOKEN = "xapp-1-A111-3333-fakeapptoken"
SIGNING_SECRET = "fake-signing-secret-0123456789abcdef"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"

WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Call:
    """One request the app made: the API method (or "response_url"), its body, our status,
    when it arrived (`time.monotonic()`, so a benchmark in this process can time answers) and
    what we answered."""

    method: str
    body: dict
    status: int
    at: float = field(default_factory=time.monotonic)
    reply: dict = field(default_factory=dict)


class FakeSlackAPI:
    """The Slack Web API methods the bot calls, plus `response_url`s, on 127.0.0.1.

    Calls authorised with other tokens than `bot_token` (`app_token` for Socket Mode) are
    answered `invalid_auth`, as Slack does.
    """

    def __init__(self, bot_token: str = BOT_TOKEN, app_token: str = APP_TOKEN) -> None:
        self.calls: list[Call] = []
        self.memberships: dict[str, list[str]] = {}  # user -> channel IDs, for users.conversations
        self.socket_mode_url = ""
        self.bot_token = bot_token
        self.app_token = app_token
        self._rate_limited: set[str] = set()
        self._refusals: dict[str, tuple[int, str]] = {}
        self._changed = threading.Condition()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"http://127.0.0.1:{self._server.server_port}/response/{name}"

    def __enter__(self) -> FakeSlackAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def rate_limit_once(self, method: str) -> None:
        """Answer the next call to `method` with 429 and `Retry-After: 1`, as Slack does."""
        self._rate_limited.add(method)

    def refuse_once(self, method: str, error: str, status: int = 200) -> None:
        """Answer the next call to `method` with `{"ok": false, "error": error}` and `status`."""
        self._refusals[method] = (status, error)

    def calls_to(self, method: str, status: int | None = 200) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.method == method and status in (None, c.status)]

    def posted(self) -> list[dict]:
        """What the app posted with `chat.postMessage`, in order: each message's body."""
        return [call.body for call in self.calls_to("chat.postMessage")]

    def wait_for(self, method: str, count: int = 1, timeout: float = WAIT_SECONDS) -> list[Call]:
        """The successful calls to `method`, once there are at least `count` of them."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.calls_to(method)) >= count, timeout)
            calls = self.calls_to(method)
        assert len(calls) >= count, f"expected {count} {method} call(s), got {self.calls}"
        return calls

    def respond(self, method: str, body: dict, authorization: str) -> tuple[int, dict]:
        """The status and JSON Slack would answer, recording the call."""
        if method in self._rate_limited:
            self._rate_limited.discard(method)
            status, reply = 429, {"ok": False, "error": "ratelimited"}
        elif method in self._refusals:
            status, error = self._refusals.pop(method)
            reply = {"ok": False, "error": error}
        else:
            status, reply = 200, self._answer(method, body, authorization)
        with self._changed:
            self.calls.append(Call(method=method, body=body, status=status, reply=reply))
            self._changed.notify_all()
        return status, reply

    def _answer(self, method: str, body: dict, authorization: str) -> dict:
        if method == "response_url":
            return {"ok": True}
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if authorization != f"Bearer {expected}":
            return {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://factdesk-test.slack.com/",
                "team": "factdesk test",
                "user": "factdesk",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
            }
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_mode_url}
        if method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            return {"ok": True, "channel": body.get("channel"), "ts": ts, "message": body}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "users.conversations":
            channels = [{"id": channel} for channel in self.memberships.get(body["user"], [])]
            return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}
        if method == "views.publish":
            return {"ok": True, "view": {"id": f"V{next(self._ts):06d}", **body.get("view", {})}}
        if method == "chat.update":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}
        return {"ok": False, "error": "unknown_method"}


def _handler_for(api: FakeSlackAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            """Methods slack_sdk calls with GET (users.conversations), arguments in the query."""
            path, _, query = self.path.partition("?")
            if not path.startswith("/api/"):
                self.send_error(404)
                return
            arguments = dict(parse_qsl(query))
            authorization = self.headers.get("Authorization", "")
            self._reply(*api.respond(path.removeprefix("/api/"), arguments, authorization))

        def _reply(self, status: int, reply: dict) -> None:
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            if self.path.startswith("/api/"):
                method = self.path.removeprefix("/api/").partition("?")[0]
            elif self.path.startswith(("/response/", "/commands/", "/actions/")):
                method = "response_url"  # Slack's are hooks.slack.com/commands/... and /actions/...
            else:
                self.send_error(404)
                return
            self._reply(*api.respond(method, _parse(raw), self.headers.get("Authorization", "")))

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the recorded calls are what tests look at."""

    return Handler


def _parse(raw: str) -> dict:
    """A JSON body, or a form whose JSON-looking fields (blocks, for one) are decoded."""
    if raw.startswith("{"):
        return json.loads(raw)
    form = dict(parse_qsl(raw))
    for key, value in form.items():
        if value.startswith(("[", "{")):
            form[key] = json.loads(value)
    return form


class FakeSocketMode:
    """Slack's Socket Mode endpoint: says hello, sends envelopes, records the acks it gets back."""

    def __init__(self) -> None:
        self.acks: list[dict] = []
        self._connections: list[ServerConnection] = []
        self._changed = threading.Condition()
        self._server = serve(self._session, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket=fake-ticket&app_id=A111"

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the app's connection (as Slack does when it refreshes one) and stop serving."""
        self._server.shutdown()

    def send(self, envelope: dict) -> None:
        """Send an envelope on the app's connection, once it has one."""
        connection = self._wait(lambda: self._connections[-1] if self._connections else None)
        connection.send(json.dumps(envelope))

    def wait_for_ack(self, envelope_id: str) -> dict:
        return self._wait(
            lambda: next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)
        )

    def _wait(self, find: Callable[[], object]) -> object:
        with self._changed:
            found = self._changed.wait_for(find, WAIT_SECONDS)
        assert found, "the app did not connect or acknowledge in time"
        return found

    def _session(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1}))
        with self._changed:
            self._connections.append(connection)
            self._changed.notify_all()
        try:
            for message in connection:
                with self._changed:
                    self.acks.append(json.loads(message))
                    self._changed.notify_all()
        except ConnectionClosed:
            pass  # slack_sdk's built-in client drops the socket without a close frame
