"""`factdesk slack` as a real process: it checks its settings, builds the index, listens, answers,
stops gracefully on SIGTERM, never answers an event twice across a restart, and never prints a
token."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from fakes.slack import BOT_TOKEN, SIGNING_SECRET
from fakes.slack_payloads import ACK_SECONDS, SlackSender, app_mention, event_callback

from tests.conftest import SEEDS, free_port

pytestmark = pytest.mark.slow

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


def health(port: int) -> int | None:
    """The status of GET /healthz, or None while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def wait_until_ready(port: int, process: subprocess.Popen, log: Path) -> list[int | None]:
    """Poll /healthz until it says 200; returns the statuses seen on the way."""
    seen = []
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"factdesk slack exited early:\n{log.read_text()}"
        seen.append(health(port))
        if seen[-1] == 200:
            return seen
        time.sleep(0.1)
    pytest.fail(f"factdesk slack was not ready within {START_SECONDS}s:\n{log.read_text()}")


def http_bot(tmp_path: Path, port: int, api_url: str) -> subprocess.Popen:
    return factdesk_slack(
        tmp_path,
        ["--http", "--port", str(port)],
        SLACK_API_URL=api_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        FACTDESK_LOG_LEVEL="DEBUG",
    )


def test_http_mode_answers_stops_gracefully_and_never_answers_twice_across_a_restart(
    tmp_path, fake_api
):
    """One real process after another on the same index folder, as a deploy restarts the bot:
    - /healthz says 503 while the model loads, then 200; a mention is acked and answered;
    - SIGTERM right after a burst of mentions: each is still answered, and the exit status is 0;
    - the restarted bot acknowledges Slack's retries of those events without answering them;
    - DEBUG logging was on, and still no secret shows."""
    port = free_port()
    log = tmp_path / "factdesk.log"
    process = http_bot(tmp_path, port, fake_api.api_url)
    slack = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
    try:
        assert 503 in wait_until_ready(port, process, log)
        first = event_callback(app_mention("How many advisers remain?", channel="C77"))
        reply = slack.event(first)
        assert reply.status == 200 and reply.seconds < ACK_SECONDS
        (posted,) = fake_api.wait_for("chat.postMessage", timeout=30)
        assert posted.body["channel"] == "C77"
        assert posted.body["thread_ts"] == first["event"]["ts"]
        assert slack.event(first, timestamp="1").status == 401

        burst = [
            event_callback(app_mention(f"Who is number {n}?", channel=f"C{n}")) for n in range(8)
        ]
        assert [slack.event(callback).status for callback in burst] == [200] * 8
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait(timeout=30)
    assert len(fake_api.calls_to("chat.postMessage")) == 9
    first_run = log.read_text()
    assert "Every answer in flight was posted" in first_run

    process = http_bot(tmp_path, port, fake_api.api_url)
    try:
        wait_until_ready(port, process, log)
        for callback in (first, burst[0]):
            retry = slack.event(
                callback, X_Slack_Retry_Num="1", X_Slack_Retry_Reason="http_timeout"
            )
            assert retry.status == 200
        assert slack.event(event_callback(app_mention("What now?", channel="CNEW"))).status == 200
        fake_api.wait_for("chat.postMessage", count=10, timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=30)
    channels = [call.body["channel"] for call in fake_api.calls_to("chat.postMessage")]
    assert len(channels) == 10 and channels[-1] == "CNEW"
    output = first_run + log.read_text()
    assert "auth.test" in output and "Skipping event" in output
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output


def test_a_missing_token_is_one_line_naming_the_variable(tmp_path):
    process = factdesk_slack(tmp_path, [], SLACK_APP_TOKEN="xapp-1-fake")
    assert process.wait(timeout=60) == 2
    lines = (tmp_path / "factdesk.log").read_text().strip().splitlines()
    assert len(lines) == 1 and "SLACK_BOT_TOKEN is not set" in lines[0]
