"""The Bolt app: its Web API client, its middleware, which handler answers what, and running it.

`create_app` builds everything from settings and an answerer and reads nothing else (no
environment, no globals), so tests build as many apps as they like, pointed at a fake Slack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from urllib.error import URLError

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.error import BoltError
from slack_bolt.middleware.request_verification import RequestVerification
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from factdesk.config import Settings
from factdesk.errors import ConfigError, FactdeskError
from factdesk.service import load_service
from factdesk.slack import server, tokens
from factdesk.slack.blocks import SHARE, VOTE_DOWN, VOTE_UP
from factdesk.slack.commands import COMMAND, handle_command, handle_share
from factdesk.slack.dedupe import skip_seen_events
from factdesk.slack.events import handle_app_mention, handle_message
from factdesk.slack.feedback import handle_vote
from factdesk.slack.replies import Answering, Replier
from factdesk.slack.store import Store, store_path

logger = logging.getLogger("factdesk.slack")


def run(settings: Settings, *, http: bool, port: int) -> None:
    """Serve Slack until interrupted: Socket Mode, or the Events API over HTTP with `http`.

    Every setting is checked before the model loads, and the model and index are loaded before
    connecting, so the first question is answered as fast as any other.
    """
    tokens.bot_token(settings)
    app_token = None if http else tokens.app_token(settings)
    if http:
        tokens.signing_secret(settings)
    tokens.keep_tokens_out_of_logs(settings)
    answerer = load_service(settings, notify=logger.info)
    app = create_app(settings, answerer)
    if app_token is None:
        server.serve(app, port=port)
    else:
        SocketModeHandler(app, app_token).start()


def create_app(settings: Settings, answerer: Answering) -> App:
    """A Bolt app answering with `answerer` (a `Service`), talking to the Web API at
    `settings.slack_api_url`.

    Bolt calls `auth.test` here, to learn the bot's own user id; a rejected token or an
    unreachable API is reported as a user-facing error.
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
        )
    except BoltError as exc:
        raise ConfigError(
            f"SLACK_BOT_TOKEN was rejected by {settings.slack_api_url}: {exc}"
        ) from None
    except OSError as exc:  # URLError, timeouts, resets: whatever is left after the retries
        reason = exc.reason if isinstance(exc, URLError) else exc
        raise FactdeskError(
            f"Cannot reach the Slack API at {settings.slack_api_url}: {reason}"
        ) from None

    replier = Replier(
        answerer=answerer,
        store=Store(store_path(settings)),
        dm_window=timedelta(minutes=settings.conversation_minutes),
    )
    app.use(skip_seen_events(replier.seen))
    app.use(provide(replier))
    app.event("app_mention")(handle_app_mention)
    app.event("message")(handle_message)
    app.command(COMMAND)(handle_command)
    app.action(SHARE)(handle_share)
    app.action(VOTE_UP)(handle_vote)
    app.action(VOTE_DOWN)(handle_vote)
    return app


def create_client(settings: Settings) -> WebClient:
    """The Web API client: retries on connection errors, Slack's 500/503 and rate limits
    (honouring Retry-After), so a busy or flaky moment delays answers instead of losing them."""
    return WebClient(
        token=tokens.bot_token(settings),
        base_url=settings.slack_api_url.rstrip("/") + "/",
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def provide(replier: Replier) -> Callable[..., None]:
    """A middleware making the replier available to every handler as its `replier` argument."""

    def provide_replier(context: BoltContext, next_: Callable[[], None]) -> None:
        context["replier"] = replier
        next_()

    return provide_replier


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
