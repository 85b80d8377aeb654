import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import BoltResponse

from factdesk.slack.dedupe import SeenKeys, message_key, skip_seen_events

LOGGER = logging.getLogger(__name__)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_new_only_the_first_time():
    seen = SeenKeys()
    assert seen.first_time("event:Ev1")
    assert not seen.first_time("event:Ev1")
    assert seen.first_time("event:Ev2")


def test_keys_are_forgotten_after_the_ttl():
    clock = Clock()
    seen = SeenKeys(ttl=60, clock=clock)
    assert seen.first_time("k")
    clock.now = 59
    assert not seen.first_time("k")
    clock.now = 121
    assert seen.first_time("k")


def test_the_oldest_keys_go_first_when_full():
    seen = SeenKeys(max_keys=2)
    for key in ("a", "b", "c"):
        assert seen.first_time(key)
    assert seen.first_time("a")
    assert not seen.first_time("c")


def test_only_one_of_many_concurrent_deliveries_is_new():
    seen = SeenKeys()
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: seen.first_time(message_key("C1", "1.0")), range(200)))
    assert results.count(True) == 1


def test_middleware_acknowledges_a_repeated_event_without_going_further():
    middleware = skip_seen_events(SeenKeys())
    calls = []

    def run(body: dict) -> BoltResponse | None:
        return middleware(body=body, next_=lambda: calls.append(body["event_id"]), logger=LOGGER)

    assert run({"event_id": "Ev1"}) is None
    response = run({"event_id": "Ev1"})
    assert isinstance(response, BoltResponse) and response.status == 200
    assert calls == ["Ev1"]


def test_middleware_lets_requests_without_event_id_through():
    middleware = skip_seen_events(SeenKeys())
    calls = []
    for _ in range(2):
        middleware(body={"command": "/factdesk"}, next_=lambda: calls.append(1), logger=LOGGER)
    assert calls == [1, 1]
