"""No event is answered twice: across threads, bot processes on one host (SQLite), restarts,
and hosts sharing a Redis server."""

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from fakes.slack_payloads import ACK_SECONDS, app_mention, event_callback, message
from slack_bolt import BoltResponse

from factdesk.desk_manager import AddedSource
from factdesk.slack.database import BotDatabase
from factdesk.slack.dedupe import message_key, skip_seen_events
from factdesk.slack.redis_memory import RedisMemory

LOGGER = logging.getLogger(__name__)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.slow)])
def memories(request, tmp_path):
    """A factory of memories sharing one place, as the bot processes of a deployment do."""
    if request.param == "sqlite":
        return lambda **options: BotDatabase(tmp_path / "feedback.sqlite3", **options)
    url = request.getfixturevalue("redis_url")
    prefix = f"test-{uuid.uuid4().hex}:"
    return lambda **options: RedisMemory.connect(url, prefix, **options)


def test_a_key_is_new_only_the_first_time(memories):
    seen = memories()
    assert seen.first_time("event:Ev1")
    assert not seen.first_time("event:Ev1")
    assert seen.first_time("event:Ev2")
    assert not memories().first_time("event:Ev1")  # another process, or the next one


def test_keys_expire(tmp_path):
    clock = Clock()
    seen = BotDatabase(tmp_path / "feedback.sqlite3", seen_seconds=60, clock=clock)
    assert seen.first_time("k")
    clock.now += 59
    assert not seen.first_time("k")
    clock.now += 2
    assert seen.first_time("k")


@pytest.mark.slow
def test_redis_keys_expire(redis_url):
    memory = RedisMemory.connect(redis_url, f"test-{uuid.uuid4().hex}:", seen_seconds=1)
    assert memory.first_time("k")
    assert not memory.first_time("k")
    time.sleep(1.2)
    assert memory.first_time("k")


def test_only_one_of_many_concurrent_deliveries_is_new(memories):
    """16 threads of 4 bot processes offer the same message at once: one gets it."""
    processes = [memories() for _ in range(4)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(
            pool.map(lambda n: processes[n % 4].first_time(message_key("C1", "1.0")), range(200))
        )
    assert results.count(True) == 1


def test_middleware_acknowledges_a_repeated_event_without_going_further(memories):
    middleware = skip_seen_events(memories())
    calls = []

    def run(body: dict) -> BoltResponse | None:
        return middleware(body=body, next_=lambda: calls.append(body["event_id"]), logger=LOGGER)

    assert run({"event_id": "Ev1"}) is None
    response = run({"event_id": "Ev1"})
    assert isinstance(response, BoltResponse) and response.status == 200
    assert calls == ["Ev1"]


def test_middleware_lets_requests_without_event_id_through(tmp_path):
    middleware = skip_seen_events(BotDatabase(tmp_path / "feedback.sqlite3"))
    calls = []
    for _ in range(2):
        middleware(body={"command": "/factdesk"}, next_=lambda: calls.append(1), logger=LOGGER)
    assert calls == [1, 1]


def test_an_unreachable_redis_is_one_clear_error_without_the_password():
    from factdesk.errors import FactdeskError

    with pytest.raises(FactdeskError, match=r"^Cannot reach Redis at 127\.0\.0\.1:9 ") as error:
        RedisMemory.connect("redis://:hunter2@127.0.0.1:9/0")
    assert "hunter2" not in str(error.value)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.slow)])
def test_a_retry_after_a_restart_is_not_answered_again(
    backend, request, serve_app, fake_answerer, fake_api
):
    """End to end through the real app and server: the bot answers an event, is stopped (as
    SIGTERM does) and started again; Slack's retry of the event, and the same message arriving
    as a `message` event, reach the new process and are acknowledged, not answered."""

    def memory():  # each process connects on its own
        if backend == "sqlite":
            return {}
        url, prefix = request.getfixturevalue("redis_url"), f"test-{request.node.name}:"
        return {"memory": RedisMemory.connect(url, prefix)}

    mention = app_mention("How many advisers remain?", channel="C5")
    callback = event_callback(mention)
    first = serve_app(fake_answerer, **memory())
    assert first.slack.event(callback).status == 200
    fake_api.wait_for("chat.postMessage")
    first.server.stop()
    first.server.join()

    again = serve_app(fake_answerer, **memory())
    retry = again.slack.event(callback, X_Slack_Retry_Num="1", X_Slack_Retry_Reason="http_timeout")
    same = again.slack.event(
        event_callback(message(mention["text"], channel="C5", ts=mention["ts"]))
    )
    assert (retry.status, same.status) == (200, 200)
    fresh = again.slack.event(event_callback(app_mention("How many advisers?", channel="C6")))
    assert fresh.status == 200
    fake_api.wait_for("chat.postMessage", count=2)
    again.drain()
    assert [c.body["channel"] for c in fake_api.calls_to("chat.postMessage")] == ["C5", "C6"]


def test_an_event_is_refused_while_redis_is_unreachable(serve_app, fake_answerer, fake_api):
    """Slack gets a 500 and re-sends the event later, rather than the bot answering without
    knowing whether another host already has."""
    from factdesk.slack.redis_memory import open_client
    from tests.conftest import free_port

    down = open_client(f"redis://127.0.0.1:{free_port()}/0")
    running = serve_app(fake_answerer, memory=RedisMemory(down, "test-down:"))
    reply = running.slack.event(event_callback(app_mention("How many advisers?")))
    assert reply.status == 500 and reply.seconds < ACK_SECONDS
    running.drain()
    assert fake_api.calls_to("chat.postMessage") == []


def test_added_sources_are_kept_by_desk_until_removed(memories):
    feed = AddedSource("coast", "https://courier.example/feed.xml", "UADMIN", "2024-05-01T10:00:00")
    page = AddedSource(
        "coast", "https://courier.example/a", "UOTHER", "2024-05-02T10:00:00", ("a",)
    )
    memories().save_source(page)
    memories().save_source(feed)
    memories().save_source(AddedSource("energy", "https://oil.example/feed", "U1", "2024-05-03"))
    assert memories().added_sources("coast") == [feed, page]  # oldest first
    refreshed = replace(feed, doc_ids=("x", "y"), refreshed_at="2024-06-01T00:00:00")
    memories().save_source(refreshed)
    assert memories().added_sources("coast") == [refreshed, page]
    assert memories().remove_source("coast", feed.source) == refreshed
    assert memories().remove_source("coast", feed.source) is None
    assert memories().added_sources("coast") == [page]
    assert [s.desk for s in memories().added_sources("energy")] == ["energy"]
