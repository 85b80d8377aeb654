"""Tokens and the signing secret never show: not in any log at DEBUG, error, reply or output.

The secrets are made up per run in Slack's real shapes (so a leak cannot hide behind a test-only
format, and none is ever committed), and searched for whole and by their random parts.
"""

import io
import json
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest
from fakes.slack import FakeSlackAPI
from fakes.slack_payloads import SlackSender, app_mention, event_callback, slash_command
from pydantic import SecretStr

from factdesk.errors import ConfigError
from factdesk.slack import create_app, tokens
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow

LOGGERS = ["", "factdesk", "slack_bolt", "slack_sdk", "urllib3", "chromadb"]


def digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def alnum(count: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(count))


BOT_TOKEN = f"xoxb-{digits(13)}-{digits(13)}-{alnum(24)}"
WRONG_BOT_TOKEN = f"xoxb-{digits(13)}-{digits(13)}-{alnum(24)}"
APP_TOKEN = f"xapp-1-A{alnum(10).upper()}-{digits(13)}-{secrets.token_hex(32)}"
SIGNING_SECRET = secrets.token_hex(16)
SECRETS = [BOT_TOKEN, WRONG_BOT_TOKEN, APP_TOKEN, SIGNING_SECRET]


def assert_no_secret_in(text: str) -> None:
    """Neither a whole secret nor its random tail (what survives a cut or a re-encoding)."""
    for secret in SECRETS:
        tail = secret.rsplit("-", 1)[-1]
        assert secret not in text and tail not in text, f"a secret leaked: …{secret[-6:]}"


@pytest.fixture
def all_logs() -> Iterator[io.StringIO]:
    """Every record of every logger at DEBUG, tracebacks included, in one stream."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    logging.getLogger().addHandler(handler)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream
    logging.getLogger().removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def secret_api() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as api:
        yield api


@pytest.fixture
def settings(slack_settings, secret_api):
    return slack_settings.model_copy(
        update={
            "slack_bot_token": SecretStr(BOT_TOKEN),
            "slack_app_token": SecretStr(APP_TOKEN),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_api_url": secret_api.api_url,
        }
    )


def test_nothing_the_app_logs_or_sends_holds_a_secret(
    all_logs, settings, secret_api, serve_app, answerer, capfd
):
    tokens.keep_tokens_out_of_logs(settings)  # as `factdesk slack` sets logging up
    running = serve_app(answerer, settings)
    slack = SlackSender(running.url, SIGNING_SECRET)

    def mention(count: int) -> None:
        assert slack.event(event_callback(app_mention("How many advisers remain?"))).status == 200
        secret_api.wait_for("chat.postMessage", count=count)

    mention(1)
    secret_api.refuse_once("chat.postMessage", "invalid_auth")
    mention(2)
    secret_api.refuse_once("chat.postMessage", "channel_not_found")  # logged with a traceback
    mention(3)
    secret_api.refuse_once("chat.postMessage", "internal_error", status=500)
    slack.event(event_callback(app_mention("How many advisers remain?")))
    slack.form(slash_command("How many advisers remain?", secret_api.response_url()))
    assert SlackSender(running.url, "not-the-secret").event({"type": "x"}).status == 401
    running.drain()
    rejected = settings.model_copy(update={"slack_bot_token": SecretStr(WRONG_BOT_TOKEN)})
    with pytest.raises(ConfigError) as error:
        create_app(rejected, answerer)

    logs = all_logs.getvalue()
    assert "Slack refused the bot token (invalid_auth)" in logs and "HTTP Error 500" in logs
    assert "channel_not_found" in logs and "Traceback" in logs
    assert "slack_sdk" in logs and "DEBUG" in logs
    sent = json.dumps([call.body for call in secret_api.calls])
    output = capfd.readouterr()
    assert_no_secret_in("\n".join([logs, sent, output.out, output.err, str(error.value)]))


def factdesk(*args: str, env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "factdesk", *args],
        env=env,
        cwd=cwd,  # no stray .env
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_rejected_token_and_status_output_hold_no_secret(tmp_path, secret_api, seed_index):
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": WRONG_BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": secret_api.api_url,
        "FACTDESK_INDEX_DIR": str(seed_index),
        "FACTDESK_SEEDS_DIR": str(SEEDS),
        "FACTDESK_LOG_LEVEL": "DEBUG",
    }
    bot = factdesk("slack", env=env, cwd=tmp_path)
    assert bot.returncode == 2, bot.stderr
    assert "Error: SLACK_BOT_TOKEN was rejected" in bot.stderr
    assert [call.method for call in secret_api.calls] == ["auth.test"]
    status = factdesk("status", env=env, cwd=tmp_path)
    assert status.returncode == 0 and "c436e124a59.txt" in status.stdout
    assert_no_secret_in("\n".join([bot.stdout, bot.stderr, status.stdout, status.stderr]))
