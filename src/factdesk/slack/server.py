"""HTTP mode: the Events API, slash commands and button clicks POSTed to `/slack/events`, and
`GET /healthz`, served by uvicorn through Bolt's ASGI adapter.

uvicorn is the production server (Bolt's own `app.start()` is documented as for development
only); Bolt's ASGI adapter turns each request into `App.dispatch`, which checks the signature,
answers `url_verification` and acknowledges, while the answer itself is computed on the app's
answer pool after the response has gone back to Slack. Around the adapter, this module keeps
what a server facing the internet must: one path, POST only, no body over 1 MB read, a 503
until the model is loaded, and a stop that lets the answers in flight finish (see pool.py).
Why uvicorn rather than gunicorn: bot/README.md, with the load figures.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

import uvicorn
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest

from factdesk.serving import on_stop_signals, uvicorn_config
from factdesk.slack.health import Health
from factdesk.slack.pool import SHUTDOWN_SECONDS, AnswerPool

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_BODY_BYTES = 1024 * 1024
# How long a stopping server waits for Slack's requests still being read or acknowledged (they
# take milliseconds), before the answers in flight get their SHUTDOWN_SECONDS.
REQUESTS_SECONDS = 3

Load = Callable[[Health], App]


def serve(load: Load, host: str, port: int) -> None:
    """Listen at once, load the app in the background (`load`), serve until SIGTERM or Ctrl-C,
    then finish the answers in flight. An error while loading stops the server and is raised."""
    asgi = SlackServer(load)
    server = uvicorn.Server(config(asgi, host, port))

    def stop() -> None:
        server.should_exit = True

    asgi.stop_server = stop
    with _signals_end_the_server():
        server.run()
    if asgi.load_error is not None:
        raise asgi.load_error


def config(app: SlackServer, host: str, port: int) -> uvicorn.Config:
    """uvicorn's settings for the bot's HTTP mode."""
    return uvicorn_config(app, host, port, REQUESTS_SECONDS)


def _signals_end_the_server() -> AbstractContextManager[None]:
    """uvicorn turns SIGTERM and SIGINT into a graceful stop, then raises the signal again once
    stopped, to the handler it found: here one that lets the process end normally (exit 0)."""
    return on_stop_signals(lambda *_: None)


def finish_answers(app: App) -> None:
    """Let the answers acknowledged but not yet posted finish, for SHUTDOWN_SECONDS at most."""
    pool = app.listener_runner.listener_executor
    if not isinstance(pool, AnswerPool):
        return
    unfinished = pool.drain(SHUTDOWN_SECONDS)
    if unfinished:
        logger.error(
            "Stopped with %d answer(s) unfinished after %g s", unfinished, SHUTDOWN_SECONDS
        )
    else:
        logger.info("Every answer in flight was posted; stopping")


class BoltHandler(SlackRequestHandler):
    """Bolt's ASGI adapter, with `App.dispatch` (signature check, duplicate check in SQLite or
    Redis, acknowledgement) on a worker thread, so that one slow request never holds up the
    event loop, and with it every other request and the health check."""

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        bolt_request = BoltRequest(
            body=await request.get_raw_body(),
            query=request.query_string,
            headers=request.get_headers(),
        )
        return await asyncio.to_thread(self.app.dispatch, bolt_request)


class SlackServer:
    """The ASGI application uvicorn serves."""

    def __init__(self, load: Load, health: Health | None = None) -> None:
        self.health = health or Health()
        self.load_error: BaseException | None = None
        self.app: App | None = None
        self._load = load
        self._bolt: BoltHandler | None = None
        self.stop_server: Callable[[], None] = lambda: None  # set by `serve`

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    # -- start and stop --------------------------------------------------------------------

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                threading.Thread(target=self._load_app, name="factdesk-load", daemon=True).start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.health.stopping()
                if self.app is not None:
                    await asyncio.to_thread(finish_answers, self.app)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _load_app(self) -> None:
        try:
            app = self._load(self.health)
        except BaseException as exc:  # raised again by `serve`, as the CLI reports it
            self.load_error = exc
            self.stop_server()
            return
        self.app, self._bolt = app, BoltHandler(app, path=EVENTS_PATH)
        logger.info("Ready: answering Slack on %s", EVENTS_PATH)

    # -- requests --------------------------------------------------------------------------

    async def _http(self, scope: dict, receive: Callable, send: Callable) -> None:
        path, method = scope["path"], scope["method"]
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            await self._health(send)
        elif path != EVENTS_PATH:
            await _reply(send, 404, "not found")
        elif method != "POST":
            await _reply(send, 405, "method not allowed", [(b"allow", b"POST")])
        else:
            await self._event(scope, receive, send)

    async def _health(self, send: Callable) -> None:
        problem = await asyncio.to_thread(self.health.problem)
        if problem is None:
            await _reply(send, 200, json.dumps({"ok": True}), json_body=True)
        else:
            await _reply(send, 503, json.dumps({"ok": False, "reason": problem}), json_body=True)

    async def _event(self, scope: dict, receive: Callable, send: Callable) -> None:
        """Checks on the headers before reading a byte of the body, then Bolt."""
        length = dict(scope["headers"]).get(b"content-length", b"")
        if not length.isdigit():
            await _reply(send, 411, "length required")
        elif int(length) > MAX_BODY_BYTES:
            await _reply(send, 413, "request body too large")
        elif self._bolt is None:
            await _reply(send, 503, "starting: " + (self.health.problem() or "almost ready"))
        else:
            body = await _read_body(receive)
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                await _reply(send, 400, "request body is not UTF-8")
                return
            await self._bolt(scope, _replay(body), send)


async def _read_body(receive: Callable) -> bytes:
    chunks = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.extend(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return bytes(chunks)


def _replay(body: bytes) -> Callable:
    """A `receive` that gives Bolt's adapter the body already read."""

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _reply(
    send: Callable,
    status: int,
    text: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    json_body: bool = False,
) -> None:
    body = text.encode("utf-8")
    kind = b"application/json" if json_body else b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
