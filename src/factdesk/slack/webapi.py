"""Talking to Slack: the Web API client and the replies sent to a `response_url`.

Both go where SLACK_API_URL says and retry alike, on connection errors, Slack's 500/503 and rate
limits (honouring Retry-After), so a busy or flaky moment delays answers instead of losing them,
and a proxy (or a fake Slack in tests) sees every call the bot makes.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    RetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.webhook import WebhookClient, WebhookResponse

from factdesk.config import DEFAULT_SLACK_API_URL, Settings
from factdesk.slack import tokens


def retry_handlers() -> list[RetryHandler]:
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
    ]


def create_client(settings: Settings) -> WebClient:
    """The Web API client, at SLACK_API_URL, with retries."""
    return WebClient(
        token=tokens.bot_token(settings),
        base_url=settings.slack_api_url.rstrip("/") + "/",
        retry_handlers=retry_handlers(),
    )


def rebase(response_url: str, api_url: str) -> str:
    """A `response_url` sent to SLACK_API_URL's scheme, host and port (its path kept) when
    SLACK_API_URL is not Slack's own: a proxy in front of Slack gets these calls too."""
    if api_url.rstrip("/") == DEFAULT_SLACK_API_URL.rstrip("/"):
        return response_url
    base, url = urlsplit(api_url), urlsplit(response_url)
    return urlunsplit((base.scheme, base.netloc, url.path, url.query, ""))


class Responder(Respond):
    """Bolt's `respond`, sent through `rebase` and with the Web API client's retries (Bolt's own
    sends once, straight to the URL Slack gave)."""

    def __init__(self, response_url: str, settings: Settings) -> None:
        super().__init__(response_url=rebase(response_url, settings.slack_api_url))

    def __call__(  # type: ignore[override]  # the keywords the bot uses; Bolt's take more
        self,
        text: str = "",
        blocks: list | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
    ) -> WebhookResponse:
        client = WebhookClient(url=str(self.response_url), retry_handlers=retry_handlers())
        return client.send(
            text=text,
            blocks=blocks,
            response_type=response_type,
            replace_original=replace_original,
            delete_original=delete_original,
        )
