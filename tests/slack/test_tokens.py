import logging

import pytest
from fakes.slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET
from pydantic import SecretStr

from factdesk.errors import ConfigError
from factdesk.slack.tokens import REDACTED, RedactTokens, app_token, bot_token, signing_secret


def test_tokens_are_returned_when_set(slack_settings):
    assert bot_token(slack_settings) == BOT_TOKEN
    assert app_token(slack_settings) == APP_TOKEN
    assert signing_secret(slack_settings) == SIGNING_SECRET


@pytest.mark.parametrize(
    ("check", "field", "name"),
    [
        (bot_token, "slack_bot_token", "SLACK_BOT_TOKEN"),
        (app_token, "slack_app_token", "SLACK_APP_TOKEN"),
        (signing_secret, "slack_signing_secret", "SLACK_SIGNING_SECRET"),
    ],
)
def test_a_missing_token_names_its_variable(slack_settings, check, field, name):
    for missing in (None, SecretStr("   ")):
        settings = slack_settings.model_copy(update={field: missing})
        with pytest.raises(ConfigError, match=rf"^{name} is not set: .*bot/README.md"):
            check(settings)


def test_a_token_of_the_wrong_kind_is_refused(slack_settings):
    swapped = slack_settings.model_copy(update={"slack_bot_token": slack_settings.slack_app_token})
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN should start with xoxb-"):
        bot_token(swapped)


def test_redaction_hides_configured_secrets_and_anything_shaped_like_a_token():
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    handler.addFilter(RedactTokens([SIGNING_SECRET, BOT_TOKEN]))
    logger = logging.getLogger("factdesk.test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("secret %s, token %s, other xoxp-99-abc", SIGNING_SECRET, BOT_TOKEN)
        try:
            raise RuntimeError(f"failed with {APP_TOKEN}")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    formatter = logging.Formatter()
    text = "\n".join(formatter.format(record) for record in records)
    for secret in (SIGNING_SECRET, BOT_TOKEN, APP_TOKEN, "xoxp-99-abc"):
        assert secret not in text
    assert text.count(REDACTED) == 4
