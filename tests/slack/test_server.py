"""HTTP mode's transport: signatures, url_verification, body limits, paths; no model needed."""

import json
import socket
import threading
import time
from http.client import HTTPConnection
from urllib.parse import urlsplit

import pytest

from factdesk.slack import create_app
from factdesk.slack.server import SlackHTTPServer
from tests.slack.fake_slack import SIGNING_SECRET
from tests.slack.payloads import (
    SlackSender,
    app_mention,
    event_callback,
    message,
    send,
    sign,
    slash_command,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def running(serve_app, fake_answerer):
    return serve_app(fake_answerer)


@pytest.fixture
def handled(running) -> list[dict]:
    """The bodies of requests that got past the signature check into the app's middleware (a
    handler runs only after it)."""
    bodies: list[dict] = []

    def record(body: dict, next_) -> None:
        bodies.append(body)
        next_()

    running.app.use(record)
    return bodies


def only_auth_test(fake_api) -> bool:
    """Nothing but the start-up `auth.test` reached the Web API."""
    return [call.method for call in fake_api.calls] == ["auth.test"]


def test_url_verification_is_answered(running):
    reply = running.slack.event({"type": "url_verification", "challenge": "abc123", "token": "t"})
    assert reply.status == 200 and json.loads(reply.body) == {"challenge": "abc123"}


def unsigned(running, body: str, **headers: str):
    return send(running.url, body.encode(), {"Content-Type": "application/json", **headers})


def test_requests_not_signed_with_the_secret_are_refused(running, handled, fake_api, fake_answerer):
    body = json.dumps(event_callback(app_mention("how many advisers?")))
    now = str(int(time.time()))
    stale = str(int(time.time()) - 301)
    attempts = [
        unsigned(running, body),
        unsigned(running, body, **{"X-Slack-Request-Timestamp": now}),
        unsigned(
            running,
            body,
            **{"X-Slack-Request-Timestamp": now, "X-Slack-Signature": sign("wrong", body, now)},
        ),
        unsigned(
            running,
            body,
            **{
                "X-Slack-Request-Timestamp": stale,
                "X-Slack-Signature": sign(SIGNING_SECRET, body, stale),
            },
        ),
        unsigned(
            running,
            body,
            **{
                "X-Slack-Request-Timestamp": "soon",
                "X-Slack-Signature": sign(SIGNING_SECRET, body, "soon"),
            },
        ),
        SlackSender(running.url, "wrong").event({"type": "url_verification", "challenge": "x"}),
    ]
    assert [reply.status for reply in attempts] == [401] * len(attempts)
    assert handled == []
    assert running.slack.event(event_callback(message("hello"))).status == 200
    assert len(handled) == 1  # a signed request does get through
    running.drain()
    assert fake_answerer.questions == [] and only_auth_test(fake_api)


def test_a_tampered_body_is_refused(running, handled, fake_api):
    body = json.dumps(event_callback(app_mention("how many advisers?")))
    now = str(int(time.time()))
    headers = {
        "X-Slack-Request-Timestamp": now,
        "X-Slack-Signature": sign(SIGNING_SECRET, body, now),
    }
    assert unsigned(running, body.replace("advisers", "soldiers"), **headers).status == 401
    running.drain()
    assert handled == [] and only_auth_test(fake_api)


def test_bodies_over_a_megabyte_are_refused_unread(running, handled, fake_api, fake_answerer):
    """The server answers 413 from the headers alone: not a byte of the body is sent here."""
    host, port = urlsplit(running.url).netloc.split(":")
    connection = HTTPConnection(host, int(port), timeout=5)
    connection.putrequest("POST", "/slack/events")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(1024 * 1024 + 1))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()
    running.drain()
    assert handled == [] and fake_answerer.questions == []
    assert only_auth_test(fake_api)


def test_a_body_of_exactly_a_megabyte_is_read(running):
    body = json.dumps({"type": "url_verification", "challenge": "c", "pad": ""})
    body = body.replace('"pad": ""', '"pad": "' + "x" * (1024 * 1024 - len(body)) + '"')
    assert len(body) == 1024 * 1024
    assert running.slack.post(body, "application/json", {}).status == 200


def test_a_burst_of_connections_waits_in_the_backlog(slack_settings, fake_answerer):
    """Slack delivers events in bursts. A connection the kernel drops for want of backlog is only
    retried by the sender a second later; here none is dropped while the server is busy."""
    app = create_app(slack_settings, fake_answerer)
    with SlackHTTPServer(app, ("127.0.0.1", 0)) as server:  # listening, not accepting
        burst = [socket.create_connection(server.server_address, timeout=1) for _ in range(50)]
        for connection in burst:
            connection.close()


def test_other_paths_are_not_found(running):
    assert send(running.url.replace("/slack/events", "/other"), b"{}", {}).status == 404


def test_ignored_events_are_still_acknowledged(running, fake_answerer, fake_api):
    """An unacknowledged event would be re-sent by Slack; ignoring one must still answer 200."""
    for event in (
        message("edited", subtype="message_changed"),
        message("hello"),
        message("from a bot", channel_type="im", bot_id="B2"),
    ):
        assert running.slack.event(event_callback(event)).status == 200
    running.drain()
    assert fake_answerer.questions == []


class SlowAnswerer:
    """An answerer that takes as long as the test wants: until `release` is set."""

    def __init__(self, answerer) -> None:
        self.answerer = answerer
        self.release = threading.Event()

    streams = False

    def ask(self, question: str, history=(), top_k: int | None = None, on_text=None):
        assert self.release.wait(10)
        return self.answerer.ask(question, history, top_k)


def test_requests_are_acknowledged_before_the_answer_is_computed(
    serve_app, fake_answerer, fake_api
):
    slow = SlowAnswerer(fake_answerer)
    running = serve_app(slow)
    mention = running.slack.event(event_callback(app_mention("how many advisers?")))
    command = running.slack.form(slash_command("how many advisers?", fake_api.response_url()))
    assert (mention.status, command.status) == (200, 200)
    assert fake_api.calls_to("chat.postMessage") == fake_api.calls_to("response_url") == []
    slow.release.set()
    fake_api.wait_for("chat.postMessage")
    fake_api.wait_for("response_url")
