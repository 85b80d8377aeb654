"""Socket Mode end to end: Bolt's built-in client on a local websocket server, real answers."""

import logging
import os
import signal
import threading
import time

import pytest
from fakes.slack import APP_TOKEN, FakeSocketMode
from fakes.slack_payloads import app_mention, event_callback
from slack_bolt.adapter.socket_mode import SocketModeHandler

from factdesk.errors import ConfigError
from factdesk.slack import app as slack_app
from factdesk.slack import create_app
from tests.slack.conftest import SlowAnswerer, one_desk

pytestmark = pytest.mark.slow


@pytest.fixture
def socket_mode(fake_api):
    with FakeSocketMode() as server:
        fake_api.socket_mode_url = server.url
        yield server


def envelope(envelope_id: str, payload: dict, retry_attempt: int = 0) -> dict:
    return {
        "envelope_id": envelope_id,
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": retry_attempt,
        "retry_reason": "timeout" if retry_attempt else "",
        "payload": payload,
    }


def test_an_event_is_acknowledged_by_envelope_and_answered_once(
    socket_mode, fake_api, slack_settings, answerer
):
    app = create_app(slack_settings, answerer)
    handler = SocketModeHandler(app, APP_TOKEN, auto_reconnect_enabled=False)
    handler.connect()
    try:
        event = app_mention("How many advisers remain?", channel="C8")
        payload = event_callback(event, event_id="Ev0SOCKET")
        socket_mode.send(envelope("env-1", payload))
        assert socket_mode.wait_for_ack("env-1") == {"envelope_id": "env-1"}
        (posted,) = fake_api.wait_for("chat.postMessage")
        assert posted.body["channel"] == "C8" and posted.body["thread_ts"] == event["ts"]
        assert "few dozen" in posted.body["text"]

        socket_mode.send(envelope("env-2", payload, retry_attempt=1))
        assert socket_mode.wait_for_ack("env-2") == {"envelope_id": "env-2"}
        app.listener_runner.listener_executor.shutdown(wait=True)
        assert len(fake_api.calls_to("chat.postMessage")) == 1
    finally:
        socket_mode.close()  # closing from the server's side spares the client a read timeout
        handler.close()
    assert fake_api.calls_to("apps.connections.open")


def test_a_refused_token_ends_socket_mode_with_an_error(
    socket_mode, fake_api, slack_settings, fake_answerer, monkeypatch, caplog
):
    """`invalid_auth` on a post: logged as an error, and `factdesk slack` ends with a one-line
    error (exit status 2) instead of failing one message at a time unseen."""
    monkeypatch.setattr(slack_app, "load_desk_pipelines", one_desk(fake_answerer))
    fake_api.refuse_once("chat.postMessage", "invalid_auth")
    payload = event_callback(app_mention("How many advisers remain?"), event_id="Ev0REFUSED")
    sender = threading.Thread(target=socket_mode.send, args=(envelope("env-9", payload),))
    sender.start()
    try:
        with pytest.raises(ConfigError, match=r"^Slack refused SLACK_BOT_TOKEN \(invalid_auth\)"):
            slack_app.run_socket_mode(slack_settings, APP_TOKEN)
    finally:
        sender.join()
        socket_mode.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["Slack refused the bot token (invalid_auth): set a valid SLACK_BOT_TOKEN"]
    assert ConfigError.exit_code == 2


def test_sigterm_lets_the_answers_in_flight_finish(
    socket_mode, fake_api, slack_settings, fake_answerer, monkeypatch
):
    """SIGTERM while an answer is being computed: the bot stops taking events, posts the answer,
    and returns normally (exit status 0)."""
    slow = SlowAnswerer(fake_answerer)
    monkeypatch.setattr(slack_app, "load_desk_pipelines", one_desk(slow))
    payload = event_callback(app_mention("How many advisers remain?", channel="C4"))

    def deliver_then_stop() -> None:
        socket_mode.send(envelope("env-5", payload))
        socket_mode.wait_for_ack("env-5")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)
        slow.release.set()

    sender = threading.Thread(target=deliver_then_stop)
    sender.start()
    try:
        slack_app.run_socket_mode(slack_settings, APP_TOKEN)
    finally:
        sender.join()
        socket_mode.close()
    (posted,) = fake_api.calls_to("chat.postMessage")
    assert posted.body["channel"] == "C4"
