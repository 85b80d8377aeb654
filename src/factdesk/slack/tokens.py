"""The bot's three secrets: where each comes from, and keeping all of them out of the logs.

A missing or misplaced token is the most common set-up mistake, so each check names the variable
and says where in the Slack app's settings the value is found.
"""

from __future__ import annotations

import os
import re

from pydantic import SecretStr

from factdesk.config import Settings
from factdesk.errors import ConfigError
from factdesk.serving import REDACTED, RedactSecrets, keep_out_of_logs  # noqa: F401  (read here too)

# Slack token shapes: bot, user, app-level, configuration and refresh tokens.
_TOKEN_PATTERN = re.compile(r"\b(?:xox[abposer]|xapp)-[A-Za-z0-9-]+")


def bot_token(settings: Settings) -> str:
    return _required(
        settings.slack_bot_token,
        "SLACK_BOT_TOKEN",
        "xoxb-",
        "the Bot User OAuth Token from OAuth & Permissions in your Slack app's settings",
    )


def app_token(settings: Settings) -> str:
    return _required(
        settings.slack_app_token,
        "SLACK_APP_TOKEN",
        "xapp-",
        "an app-level token with the connections:write scope (Basic Information > App-Level "
        "Tokens); or run `factdesk slack --http`",
    )


def signing_secret(settings: Settings) -> str:
    return _required(
        settings.slack_signing_secret,
        "SLACK_SIGNING_SECRET",
        "",
        "the Signing Secret from Basic Information > App Credentials; HTTP mode checks every "
        "request with it",
    )


def _required(secret: SecretStr | None, name: str, prefix: str, where: str) -> str:
    value = secret.get_secret_value().strip() if secret is not None else ""
    if not value:
        raise ConfigError(f"{name} is not set: set it in .env to {where} (see bot/README.md).")
    if not value.startswith(prefix):
        raise ConfigError(f"{name} should start with {prefix}: it must be {where}.")
    return value


class RedactTokens(RedactSecrets):
    """Replaces Slack tokens and the configured secrets in every record a handler emits."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__(secrets, _TOKEN_PATTERN)


def keep_tokens_out_of_logs(settings: Settings) -> None:
    """Make sure logging is set up, and that none of its handlers can print a secret."""
    secrets = [
        secret.get_secret_value()
        for secret in (
            settings.slack_bot_token,
            settings.slack_app_token,
            settings.slack_signing_secret,
        )
        if secret is not None
    ]
    keep_out_of_logs(settings.log_level, RedactTokens(secrets))


SECRET_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")


def take_from_environment() -> None:
    """Once read into the settings, the secrets leave the process environment: Bolt would read
    SLACK_BOT_TOKEN again (and warn that its client's token wins), and nothing the bot starts
    needs to inherit them."""
    for name in SECRET_VARIABLES:
        os.environ.pop(name, None)
