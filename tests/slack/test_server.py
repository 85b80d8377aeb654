"""HTTP mode's server (uvicorn, Bolt's ASGI adapter): signatures, url_verification, body limits,
paths, /healthz, a graceful stop; no model needed."""

import json
import logging
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from urllib.error import HTTPError
from urllib.parse import urlsplit

import pytest
from fakes.slack import SIGNING_SECRET
from fakes.slack_payloads import (
    ACK_SECONDS,
    SlackSender,
    app_mention,
    event_callback,
    message,
    send,
    sign,
    slash_command,
)

from factdesk.errors import StoreUnavailableError
from factdesk.slack import create_app, server
from factdesk.slack.health import LOADING
from tests.slack.conftest import ServerThread, SlowAnswerer

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


def test_a_burst_of_requests_is_all_acknowledged_in_time(running, fake_answerer):
    """Slack delivers events in bursts: 50 at once, every one acknowledged at once (Slack wants
    3 s; the bound here is the suite's, which a loaded machine cannot break)."""
    events = [event_callback(message(f"hello {n}")) for n in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(running.slack.event, events))
    assert [reply.status for reply in replies] == [200] * 50
    assert max(reply.seconds for reply in replies) < ACK_SECONDS


def test_other_paths_and_methods_are_refused(running):
    assert send(running.url.replace("/slack/events", "/other"), b"{}", {}).status == 404
    assert get(running.url)[0] == 405


def test_a_body_that_is_not_utf8_is_refused(running, handled):
    assert send(running.url, b"\xff\xfe{}", {"Content-Type": "application/json"}).status == 400
    assert handled == []


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


def get(url: str) -> tuple[int, dict | str]:
    """GET, and the status with the JSON (or text) body, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status, body = response.status, response.read().decode()
    except HTTPError as error:
        status, body = error.code, error.read().decode()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def test_health_is_503_while_loading_then_200(slack_settings, fake_answerer):
    """The server listens at once; Slack's requests get a 503 (Slack re-sends them) until the
    model and index are loaded."""
    release = threading.Event()

    def load(health):
        assert release.wait(10)
        app = create_app(slack_settings, fake_answerer, on_refused=health.refuse)
        health.loaded()
        return app

    running = ServerThread(load)
    try:
        assert get(running.health_url) == (503, {"ok": False, "reason": LOADING})
        mention = event_callback(app_mention("how many advisers?"))
        assert SlackSender(running.url, SIGNING_SECRET).event(mention).status == 503
        release.set()
        running.wait_until_loaded()
        assert get(running.health_url) == (200, {"ok": True})
    finally:
        release.set()
        running.stop()
        running.join()


def test_health_is_503_while_the_store_is_unreachable(serve_app, fake_answerer):
    down = threading.Event()

    def probe() -> None:
        if down.is_set():
            raise StoreUnavailableError("Cannot reach the Chroma server at 127.0.0.1:9: refused")

    running = serve_app(fake_answerer, probes=[("the Chroma server", probe)])
    health = running.server.health_url
    assert get(health) == (200, {"ok": True})
    down.set()
    status, body = get(health)
    assert status == 503 and body["reason"].startswith("cannot reach the Chroma server")
    down.clear()
    assert get(health)[0] == 200  # back without a restart


def test_a_refused_token_is_an_error_and_turns_health_503(
    serve_app, fake_answerer, fake_api, caplog
):
    running = serve_app(fake_answerer)
    fake_api.refuse_once("chat.postMessage", "invalid_auth")
    with caplog.at_level(logging.ERROR, logger="factdesk.slack"):
        running.slack.event(event_callback(app_mention("how many advisers?")))
        running.drain()
    assert get(running.server.health_url) == (
        503,
        {"ok": False, "reason": "Slack refused the bot token (invalid_auth)"},
    )
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "Slack refused the bot token (invalid_auth)" in record.getMessage()
    assert record.exc_info is None  # one clear line, not a traceback


def test_a_load_error_stops_the_server_and_is_raised(slack_settings, monkeypatch):
    """`factdesk slack --http` reports a failure to load (an incompatible index, say) as the CLI
    does, with its exit code, instead of serving 503 for ever."""

    def fail(health):
        raise StoreUnavailableError("Cannot open the embedded Chroma at index: broken")

    monkeypatch.setattr(server, "_signals_end_the_server", _no_signals)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="broken"):
        server.serve(fail, "127.0.0.1", 0)
    assert time.monotonic() - started < 10


def _no_signals():
    from contextlib import nullcontext

    return nullcontext()


def test_stopping_lets_the_answers_in_flight_finish(serve_app, fake_answerer, fake_api):
    """What SIGTERM does: stop listening, then wait for the answers acknowledged but not yet
    posted (here one held for a second, and two queued behind it) before exiting."""
    slow = SlowAnswerer(fake_answerer)
    running = serve_app(slow)
    for channel in ("C1", "C2", "C3"):
        assert (
            running.slack.event(event_callback(app_mention("advisers?", channel=channel))).status
            == 200
        )
    running.server.stop()
    time.sleep(1)
    assert running.server.thread.is_alive() and fake_api.calls_to("chat.postMessage") == []
    slow.release.set()
    running.server.join(timeout=15)
    assert sorted(c.body["channel"] for c in fake_api.calls_to("chat.postMessage")) == [
        "C1",
        "C2",
        "C3",
    ]


def test_stopping_waits_no_longer_than_the_limit(serve_app, fake_answerer, monkeypatch, caplog):
    monkeypatch.setattr(server, "SHUTDOWN_SECONDS", 0.5)
    slow = SlowAnswerer(fake_answerer)
    running = serve_app(slow)
    running.slack.event(event_callback(app_mention("how many advisers?")))
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        running.server.stop()
        running.server.join(timeout=15)
    assert time.monotonic() - started < 10  # the 0.5 s limit, not the 15 s join
    assert "Stopped with 1 answer(s) unfinished after 0.5 s" in caplog.text
    slow.release.set()
    running.drain()  # the answer is posted after all, while the fake Slack still listens


def test_response_url_goes_through_the_configured_api_host(serve_app, fake_answerer, fake_api):
    """Slack gives a hooks.slack.com URL; with SLACK_API_URL pointing elsewhere (a proxy, here
    the fake Slack), the private answer goes there, path kept."""
    running = serve_app(fake_answerer)
    hook = "https://hooks.slack.com/commands/T0001/1234/secretpart"
    assert running.slack.form(slash_command("how many advisers?", hook)).status == 200
    (private,) = fake_api.wait_for("response_url")
    assert private.body["response_type"] == "ephemeral" and "few dozen" in private.body["text"]


def test_a_response_url_failing_with_a_server_error_is_retried(serve_app, fake_answerer, fake_api):
    running = serve_app(fake_answerer)
    fake_api.refuse_once("response_url", "internal_error", status=503)
    running.slack.form(slash_command("how many advisers?", fake_api.response_url()))
    fake_api.wait_for("response_url")
    running.drain()
    assert [c.status for c in fake_api.calls_to("response_url", status=None)] == [503, 200]


def test_response_urls_are_left_alone_with_slacks_own_api():
    from factdesk.config import DEFAULT_SLACK_API_URL
    from factdesk.slack.webapi import rebase

    hook = "https://hooks.slack.com/actions/T1/2/x?y=1"
    assert rebase(hook, DEFAULT_SLACK_API_URL) == hook
    assert rebase(hook, "http://127.0.0.1:8080/api/") == "http://127.0.0.1:8080/actions/T1/2/x?y=1"
