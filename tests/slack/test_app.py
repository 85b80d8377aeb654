import re

import pytest
from pydantic import SecretStr
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from factdesk.errors import ConfigError, FactdeskError
from factdesk.slack import app as slack_app
from factdesk.slack import create_app, run
from tests.conftest import free_port


def test_the_app_talks_to_the_configured_api_with_retries(slack_settings, fake_service, fake_api):
    app = create_app(slack_settings, fake_service)
    assert app.client.base_url == fake_api.api_url
    assert {type(handler) for handler in app.client.retry_handlers} == {
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    }
    assert [call.method for call in fake_api.calls] == ["auth.test"]


def test_a_rejected_bot_token_is_a_config_error(slack_settings, fake_service):
    settings = slack_settings.model_copy(update={"slack_bot_token": SecretStr("xoxb-wrong")})
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN was rejected") as error:
        create_app(settings, fake_service)
    assert "xoxb-wrong" not in str(error.value)


@pytest.mark.slow  # waits out the connection retries
def test_an_unreachable_api_is_reported_plainly(slack_settings, fake_service):
    port = free_port()  # nothing listens there
    settings = slack_settings.model_copy(update={"slack_api_url": f"http://127.0.0.1:{port}/api"})
    with pytest.raises(
        FactdeskError,
        match="^" + re.escape(f"Cannot reach the Slack API at http://127.0.0.1:{port}"),
    ):
        create_app(settings, fake_service)


@pytest.mark.parametrize(
    ("http", "missing", "variable"),
    [
        (False, "slack_bot_token", "SLACK_BOT_TOKEN"),
        (False, "slack_app_token", "SLACK_APP_TOKEN"),
        (True, "slack_bot_token", "SLACK_BOT_TOKEN"),
        (True, "slack_signing_secret", "SLACK_SIGNING_SECRET"),
    ],
)
def test_run_checks_its_settings_before_loading_the_model(
    slack_settings, monkeypatch, http, missing, variable
):
    def load_service(*args, **kwargs):
        pytest.fail("the model was loaded before the settings were checked")

    monkeypatch.setattr(slack_app, "load_desk_services", load_service)
    settings = slack_settings.model_copy(update={missing: None})
    with pytest.raises(ConfigError, match=f"^{variable} is not set"):
        run(settings, http=http, port=0)


def test_http_mode_needs_no_app_token(slack_settings, monkeypatch):
    class Loaded(Exception):
        pass

    def load_service(*args, **kwargs):
        raise Loaded

    monkeypatch.setattr(slack_app, "load_desk_services", load_service)
    settings = slack_settings.model_copy(update={"slack_app_token": None})
    with pytest.raises(Loaded):
        run(settings, http=True, port=0)
