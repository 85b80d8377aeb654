"""`factdesk slack` as a real process: it checks its settings, builds the index, listens, answers,
and never prints a token."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET
from tests.slack.payloads import SlackSender, app_mention, event_callback

pytestmark = pytest.mark.slow

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
START_SECONDS = 120


def factdesk_slack(tmp_path: Path, args: list[str], **env: str) -> subprocess.Popen:
    log = (tmp_path / "factdesk.log").open("w")
    environment = {
        **os.environ,
        "FACTDESK_INDEX_DIR": str(tmp_path / "index"),
        "FACTDESK_SEEDS_DIR": str(SEEDS),
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "factdesk", "slack", *args],
        cwd=tmp_path,  # no stray .env
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"factdesk slack exited early:\n{log.read_text()}"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"factdesk slack did not listen within {START_SECONDS}s:\n{log.read_text()}")


def test_http_mode_answers_a_mention_and_keeps_secrets_out_of_its_output(tmp_path, fake_api):
    port = free_port()
    process = factdesk_slack(
        tmp_path,
        ["--http", "--port", str(port)],
        SLACK_API_URL=fake_api.api_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        FACTDESK_LOG_LEVEL="DEBUG",
    )
    log = tmp_path / "factdesk.log"
    try:
        wait_until_listening(port, process, log)
        slack = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
        event = app_mention("How many advisers remain?", channel="C77")
        reply = slack.event(event_callback(event))
        assert reply.status == 200 and reply.seconds < 3
        (posted,) = fake_api.wait_for("chat.postMessage", timeout=30)
        assert posted.body["channel"] == "C77" and posted.body["thread_ts"] == event["ts"]
        assert "few dozen" in posted.body["text"]
        assert slack.event(event_callback(event), timestamp="1").status == 401
    finally:
        process.terminate()
        process.wait(timeout=30)
    output = log.read_text()
    assert "auth.test" in output  # DEBUG logging was on, and still:
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output


def test_a_missing_token_is_one_line_naming_the_variable(tmp_path):
    process = factdesk_slack(tmp_path, [], SLACK_APP_TOKEN="xapp-1-fake")
    assert process.wait(timeout=60) == 2
    lines = (tmp_path / "factdesk.log").read_text().strip().splitlines()
    assert len(lines) == 1 and "SLACK_BOT_TOKEN is not set" in lines[0]
