import logging
import os

import pytest
from fakes.slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET
from pydantic import SecretStr
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from factdesk.errors import ConfigError, ExitCode
from factdesk.slack import app as slack_app
from factdesk.slack import create_app, run
from factdesk.slack.health import Health
from tests.conftest import free_port, invoke_factdesk


def test_the_app_talks_to_the_configured_api_with_retries(slack_settings, fake_answerer, fake_api):
    app = create_app(slack_settings, fake_answerer)
    assert app.client.base_url == fake_api.api_url
    assert {type(handler) for handler in app.client.retry_handlers} == {
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    }
    assert [call.method for call in fake_api.calls] == ["auth.test"]


def test_a_rejected_bot_token_is_a_config_error(slack_settings, fake_answerer):
    settings = slack_settings.model_copy(update={"slack_bot_token": SecretStr("xoxb-wrong")})
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN was rejected") as error:
        create_app(settings, fake_answerer)
    assert "xoxb-wrong" not in str(error.value)


def without_desks(monkeypatch, answerer) -> None:
    """The bot answering with `answerer` alone: no desks to load, fill or refresh."""
    monkeypatch.setattr(slack_app, "load_desks_and_memory", lambda settings: (answerer, None, None))
    monkeypatch.setattr(slack_app, "start_desk_work", lambda settings, desks: None)


@pytest.mark.slow  # waits out the connection retries
def test_an_unreachable_api_has_its_own_exit_status(fake_answerer, monkeypatch, tmp_path):
    """`factdesk slack` with Slack out of reach: one line naming the address, exit status 9 (not
    1, which is for bugs; not 2, as no setting is wrong)."""
    without_desks(monkeypatch, fake_answerer)
    api = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": api,
        "FACTDESK_INDEX_DIR": str(tmp_path / "index"),
    }
    result = invoke_factdesk("slack", env=env)
    assert result.returncode == ExitCode.SLACK_UNREACHABLE == 9
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: Cannot reach the Slack API at {api}: ")


def test_starting_the_bot_logs_no_warning(
    slack_settings, fake_answerer, monkeypatch, caplog, fake_api
):
    """The tokens given in the environment, as most deployments give them: Bolt, which reads
    them there too, has nothing to warn about."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setattr(fake_answerer, "check_store", lambda: None, raising=False)
    without_desks(monkeypatch, fake_answerer)
    started = []
    monkeypatch.setattr(
        slack_app.server, "serve", lambda load, host, port: started.append(load(Health()))
    )
    with caplog.at_level(logging.INFO):
        run(slack_settings, http=True, port=0)
    assert started and [call.method for call in fake_api.calls] == ["auth.test"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "SLACK_BOT_TOKEN" not in os.environ


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
    def load_desk_pipelines(*args, **kwargs):
        pytest.fail("the model was loaded before the settings were checked")

    monkeypatch.setattr(slack_app, "load_desk_pipelines", load_desk_pipelines)
    settings = slack_settings.model_copy(update={missing: None})
    with pytest.raises(ConfigError, match=f"^{variable} is not set"):
        run(settings, http=http, port=0)


def test_http_mode_needs_no_app_token(slack_settings, monkeypatch):
    class Loaded(Exception):
        pass

    def load_desk_pipelines(*args, **kwargs):
        raise Loaded

    monkeypatch.setattr(slack_app, "load_desk_pipelines", load_desk_pipelines)
    settings = slack_settings.model_copy(update={"slack_app_token": None})
    with pytest.raises(Loaded):
        run(settings, http=True, port=0)
