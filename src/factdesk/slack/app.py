"""The Bolt app: its Web API client, its middleware, which handler answers what, and running it.

`create_app` builds everything from settings and what answers, and reads nothing else (no
environment, no globals), so tests build as many apps as they like, pointed at a fake Slack.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from logging import Logger
from typing import TYPE_CHECKING
from urllib.error import URLError

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.error import BoltError
from slack_bolt.middleware.request_verification import RequestVerification
from slack_sdk.errors import SlackApiError

from factdesk.answer.answers import Answerer
from factdesk.config import Settings
from factdesk.desk_manager import DeskManager
from factdesk.desks import load_desks
from factdesk.errors import ConfigError, SlackUnreachableError
from factdesk.refresher import start_refresher
from factdesk.service import DeskPipelines, load_desk_pipelines
from factdesk.slack import server, tokens
from factdesk.slack.blocks import SHARE, VOTE_DOWN, VOTE_UP
from factdesk.slack.commands import COMMAND, handle_command, handle_share
from factdesk.slack.database import BotDatabase, Memory, database_path
from factdesk.slack.dedupe import skip_seen_events
from factdesk.slack.desks import handle_add, handle_remove, handle_sources, subcommand
from factdesk.slack.events import handle_app_mention, handle_message
from factdesk.slack.feedback import handle_vote
from factdesk.slack.health import Health, Probe
from factdesk.slack.home import handle_app_home_opened
from factdesk.slack.pool import AnswerPool
from factdesk.slack.replies import ChannelAnswerers, Replier
from factdesk.slack.webapi import Responder, create_client

if TYPE_CHECKING:
    from factdesk.slack.redis_memory import RedisMemory

logger = logging.getLogger("factdesk.slack")

# Slack's answers meaning the bot token no longer works: nothing will get through until a person
# changes it, so the bot says so loudly instead of failing one message at a time.
TOKEN_REFUSED = {"invalid_auth", "account_inactive", "token_revoked", "token_expired", "not_authed"}

OnRefused = Callable[[str], None]


def run(settings: Settings, *, http: bool, port: int, host: str | None = None) -> None:
    """Serve Slack until stopped (SIGTERM or Ctrl-C): Socket Mode, or the Events API over HTTP
    with `http`, on `host` (FACTDESK_HTTP_HOST unless given) and `port`.

    Every setting is checked before the model loads. In Socket Mode the model and index are
    loaded before connecting; in HTTP mode the server listens at once, answering 503 (and
    /healthz saying why) until they are loaded. Either way the first question is answered as
    fast as any other, and answers in flight are finished before the process exits.
    """
    tokens.bot_token(settings)
    app_token = None if http else tokens.app_token(settings)
    if http:
        tokens.signing_secret(settings)
    tokens.keep_tokens_out_of_logs(settings)
    tokens.take_from_environment()
    if app_token is None:
        server.serve(lambda health: load_app(settings, health), host or settings.http_host, port)
    else:
        run_socket_mode(settings, app_token)


def load_app(settings: Settings, health: Health) -> App:
    """Load the desks and build the app; `health` learns what to probe, and when Slack
    refuses the token."""
    pipelines, memory, desks = load_desks_and_memory(settings)
    app = create_app(settings, pipelines, memory=memory, desks=desks, on_refused=health.refuse)
    start_desk_work(settings, desks)
    probes: list[Probe] = [(settings.store_description, pipelines.check_store)]
    if memory is not None:
        probes.append(("Redis", memory.ping))
    health.loaded(probes)
    return app


def load_desks_and_memory(
    settings: Settings,
) -> tuple[DeskPipelines, RedisMemory | None, DeskManager]:
    """Every desk's pipeline (one model), the shared memory if any, and the desk manager,
    which keeps added sources in that memory (else in the SQLite database)."""
    pipelines = load_desk_pipelines(settings, load_desks(settings), notify=logger.info)
    memory = open_memory(settings)
    kept = memory or BotDatabase(database_path(settings))
    return pipelines, memory, DeskManager(pipelines, kept, settings.admins)


def start_desk_work(settings: Settings, desks: DeskManager) -> None:
    """Index desks declared but still empty, and refresh every desk on schedule."""
    for desk in desks.fill_empty():
        logger.info("Indexing the sources of the %s desk, which is empty", desk)
    start_refresher(settings, desks)


def run_socket_mode(settings: Settings, app_token: str) -> None:
    """Connect to Slack over a websocket until SIGTERM, Ctrl-C or a refused token; then let the
    answers in flight finish. A refused token ends in an error (a non-zero exit)."""
    pipelines, memory, desks = load_desks_and_memory(settings)
    stop = _Stop()
    app = create_app(settings, pipelines, memory=memory, desks=desks, on_refused=stop.refused)
    start_desk_work(settings, desks)
    handler = SocketModeHandler(app, app_token)
    with stop.on_signals():
        try:
            handler.connect()
        except SlackApiError as exc:
            raise ConfigError(
                f"SLACK_APP_TOKEN was refused by Slack ({exc.response.get('error')}): set an "
                "app-level token with the connections:write scope (see bot/README.md)."
            ) from None
        except OSError as exc:
            reason = exc.reason if isinstance(exc, URLError) else exc
            raise SlackUnreachableError(f"Cannot open a Socket Mode connection: {reason}") from None
        logger.info("Connected to Slack in Socket Mode")
        stop.wait()
    handler.close()
    server.finish_answers(app)
    if stop.error is not None:
        raise ConfigError(
            f"Slack refused SLACK_BOT_TOKEN ({stop.error}): set a valid Bot User OAuth Token "
            "(see bot/README.md)."
        )


class _Stop:
    """What ends Socket Mode: a signal, or Slack refusing the token (from a handler thread)."""

    def __init__(self) -> None:
        self.error: str | None = None
        self._event = threading.Event()

    def refused(self, error: str) -> None:
        self.error = error
        self._event.set()

    def wait(self) -> None:
        while not self._event.wait(0.5):  # a timeout, so signals are handled promptly
            pass

    def on_signals(self) -> AbstractContextManager[None]:
        return server.on_stop_signals(lambda *_: self._event.set())


def open_memory(settings: Settings) -> RedisMemory | None:
    """Redis when FACTDESK_REDIS_URL is set; else None, for the SQLite database."""
    if not settings.redis_url:
        return None
    from factdesk.slack.redis_memory import RedisMemory

    return RedisMemory.connect(settings.redis_url)


def create_app(
    settings: Settings,
    answerer: Answerer | ChannelAnswerers,
    *,
    memory: Memory | None = None,
    desks: DeskManager | None = None,
    on_refused: OnRefused | None = None,
) -> App:
    """A Bolt app answering with `answerer` (a pipeline, or `DeskPipelines`: each channel from
    its desk), talking to the Web API at `settings.slack_api_url`, remembering events and
    threads in `memory` (by default the SQLite database beside the index); `desks` lists, adds
    and removes sources (without it, `/factdesk add` and the rest say the bot has no desks).

    Bolt calls `auth.test` here, to learn the bot's own user id; a rejected token or an
    unreachable API is reported as a user-facing error. Later, a call Slack refuses for the token
    is logged as an error and reported to `on_refused`.
    """
    secret = settings.slack_signing_secret
    signing_secret = secret.get_secret_value() if secret is not None else ""
    try:
        app = App(
            name="factdesk",
            logger=logger,
            client=create_client(settings),
            signing_secret=signing_secret,
            request_verification_enabled=False,
            before_authorize=StrictRequestVerification(signing_secret),
            listener_executor=AnswerPool(),
        )
    except BoltError as exc:
        raise ConfigError(
            f"SLACK_BOT_TOKEN was rejected by {settings.slack_api_url}: {exc}"
        ) from None
    except OSError as exc:  # URLError, timeouts, resets: whatever is left after the retries
        reason = exc.reason if isinstance(exc, URLError) else exc
        raise SlackUnreachableError(
            f"Cannot reach the Slack API at {settings.slack_api_url}: {reason}"
        ) from None

    replier = Replier(
        answerer=answerer,
        database=BotDatabase(database_path(settings)),
        shared_memory=memory,
        dm_window=timedelta(minutes=settings.conversation_minutes),
    )
    app.use(skip_seen_events(replier.memory))
    app.use(provide(replier, settings, desks))
    app.error(report_errors(on_refused))
    app.event("app_mention")(handle_app_mention)
    app.event("message")(handle_message)
    app.event("app_home_opened")(handle_app_home_opened)
    # The first listener whose matchers all pass takes the command: subcommands, then questions.
    app.command(COMMAND, matchers=[subcommand("sources")])(handle_sources)
    app.command(COMMAND, matchers=[subcommand("add")])(handle_add)
    app.command(COMMAND, matchers=[subcommand("remove")])(handle_remove)
    app.command(COMMAND)(handle_command)
    app.action(SHARE)(handle_share)
    app.action(VOTE_UP)(handle_vote)
    app.action(VOTE_DOWN)(handle_vote)
    return app


def provide(
    replier: Replier, settings: Settings, desks: DeskManager | None = None
) -> Callable[..., None]:
    """A middleware making the replier and the desk manager available to every handler as its
    `replier` and `desks` arguments, and `respond` go through SLACK_API_URL with retries (see
    webapi.Responder)."""

    def provide_replier(context: BoltContext, next_: Callable[[], None]) -> None:
        context["replier"] = replier
        context["desks"] = desks
        if context.response_url:
            context["respond"] = Responder(context.response_url, settings)
        next_()

    return provide_replier


def report_errors(on_refused: OnRefused | None) -> Callable[..., None]:
    """Bolt's error handler: a token Slack refuses is an error someone must act on (and is
    reported to `on_refused`); anything else is logged with its traceback, as Bolt does."""

    def report_error(error: Exception, logger: Logger) -> None:
        code = error.response.get("error") if isinstance(error, SlackApiError) else None
        if code in TOKEN_REFUSED:
            logger.error("Slack refused the bot token (%s): set a valid SLACK_BOT_TOKEN", code)
            if on_refused is not None:
                on_refused(code)
            return
        logger.exception("Failed to handle a Slack request: %s", error)

    return report_error


class StrictRequestVerification(RequestVerification):
    """Bolt's signature check, which also answers 401 (rather than 500) to a timestamp that is
    not a number and to a missing signing secret."""

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        try:
            return super().process(req=req, resp=resp, next=next)
        except ValueError:
            return self._build_error_response()
