"""Bad input over loopback, each refused with a clear 4xx JSON error and the server still
answering: malformed bodies, wrong types, bounds, unknown desks, an empty index, missing or wrong
tokens, too many questions at once, a client too slow to send its body; and a stop that lets
the answer in flight finish."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import DEFAULT_ONLY, FULL_TOKEN, QUESTIONS, start

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def refused(reply: httpx.Response, status: int, code: str, text: str = "") -> str:
    """The reply is the JSON error expected; returns its message."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/json"
    error = reply.json()["error"]
    assert error["code"] == code, error
    assert text in error["message"] and "Traceback" not in reply.text
    assert "\n" not in error["message"]
    return error["message"]


def still_answers(client: httpx.Client, **headers: str) -> None:
    reply = client.post("/v1/ask", json={"question": QUESTIONS[0]}, headers=headers)
    assert reply.status_code == 200 and reply.json()["answered"], reply.text


def test_malformed_bodies(api):
    post = {"url": "/v1/ask", "headers": {"Content-Type": "application/json"}}
    refused(api.post(**post, content=b'{"question": '), 400, "invalid_json", "not valid JSON")
    refused(api.post(**post, content=b"\xff\xfe"), 400, "invalid_json")
    refused(api.post(**post, content=b"[1, 2]"), 422, "invalid_request", "JSON object")
    refused(api.post(**post, content=b""), 422, "invalid_request", "JSON object")
    refused(api.post("/v1/ask", data={"question": "x"}), 422, "invalid_request")
    still_answers(api)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"question": 42}, "question: Input should be a valid string"),
        ({"question": ""}, "question: String should have at least 1 character"),
        ({"question": "   "}, "The question is empty"),
        ({"question": "x", "top_k": 0}, "top_k"),
        ({"question": "x", "top_k": "many"}, "top_k"),
        ({"question": "x", "history": "none"}, "history"),
        ({"question": "x", "history": [{"answer": "y"}]}, "history.0.question: Field required"),
        ({"question": "x", "stream": "maybe"}, "stream"),
        ({"question": "x", "colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"question": "x", "desk": 3}, "desk"),
    ],
)
def test_wrong_fields_are_named(api, body, text):
    refused(api.post("/v1/ask", json=body), 422, "invalid_request", text)


def test_bounds(api):
    refused(
        api.post("/v1/ask", json={"question": "word " * 500}),
        422,
        "question_too_long",
        "at most 2,000 are read",
    )
    history = [{"question": "Who?", "answer": "Someone."}] * 21
    refused(
        api.post("/v1/ask", json={"question": "And?", "history": history}),
        422,
        "invalid_request",
        "history: List should have at most 20 items",
    )
    refused(
        api.post("/v1/search", json={"query": "x", "limit": 500}), 422, "invalid_request", "limit"
    )
    still_answers(api)


def test_huge_bodies_are_refused_unread(api):
    huge = json.dumps({"question": "x" * (2 * 1024 * 1024)}).encode()
    refused(api.post("/v1/ask", content=huge), 413, "body_too_large", "1,024 KB")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"question": "'
        for _ in range(40):
            yield b"x" * 64 * 1024
        yield b'"}'

    reply = api.post("/v1/ask", content=chunks(), headers={"Content-Type": "application/json"})
    refused(reply, 413, "body_too_large")
    still_answers(api)


def test_unknown_desks_paths_and_methods(api):
    refused(api.post("/v1/ask", json={"question": "x", "desk": "sports"}), 404, "unknown_desk")
    refused(api.get("/v1/sources", params={"desk": "sports"}), 404, "unknown_desk", "desks:")
    refused(api.get("/v2/ask"), 404, "not_found")
    refused(api.get("/v1/ask"), 405, "method_not_allowed")
    refused(api.get("/v1/ask", headers={"Host": "attacker.example"}), 400, "invalid_host")
    still_answers(api)


def test_an_empty_index_says_so(api):
    for reply in (
        api.post("/v1/ask", json={"question": "Anything?", "desk": "empty"}),
        api.post("/v1/search", json={"query": "anything", "desk": "empty"}),
    ):
        refused(reply, 409, "empty_index", "factdesk index --desk empty")
    still_answers(api)


def test_tokens_are_asked_for_checked_and_never_logged(guarded, caplog):
    caplog.set_level(logging.DEBUG)
    with httpx.Client(base_url=guarded.url, timeout=60) as api:
        ask = {"url": "/v1/ask", "json": {"question": QUESTIONS[0]}}
        wrong = ["Bearer wrong-token-0123456789", f"Basic {FULL_TOKEN}", FULL_TOKEN]
        for headers in [{}, *({"Authorization": value} for value in wrong)]:
            reply = api.post(**ask, headers=headers)
            refused(reply, 401, "unauthorized", "FACTDESK_API_TOKENS")
            assert reply.headers["www-authenticate"] == "Bearer"
        refused(api.get("/v1/models"), 401, "unauthorized")
        mcp = api.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        refused(mcp, 401, "unauthorized")
        assert api.get("/healthz").json() == {"ok": True}  # for load balancers: no token

        full = {"Authorization": f"Bearer {FULL_TOKEN}"}
        still_answers(api, **full)
        empty = {"question": "x", "desk": "empty"}
        refused(api.post("/v1/ask", json=empty, headers=full), 409, "empty_index")

        limited = {"Authorization": f"Bearer {DEFAULT_ONLY}"}
        still_answers(api, **limited)
        reply = api.post("/v1/ask", json=empty, headers=limited)
        refused(reply, 403, "forbidden_desk", "may not ask the 'empty' desk")
        models = api.get("/v1/models", headers=limited).json()["data"]
        assert [model["id"] for model in models] == ["factdesk-default"]
        desks = api.get("/v1/status", headers=limited).json()["desks"]
        assert [desk["name"] for desk in desks] == ["default"]
    for token in (FULL_TOKEN, DEFAULT_ONLY):
        assert token not in caplog.text


class Held:
    """Desk pipelines whose answers wait until `release` is set: a question in flight for as
    long as a test wants."""

    def __init__(self, pipelines) -> None:
        self.inner, self.settings, self.desks = pipelines, pipelines.settings, pipelines.desks
        self.asked = threading.Event()
        self.release = threading.Event()

    def pipeline(self, desk: str):
        held, pipeline = self, self.inner.pipeline(desk)

        class Waiting:
            reader, llm = pipeline.reader, pipeline.llm

            @property
            def passage_count(self) -> int:
                return pipeline.passage_count

            def ask(self, *args, **kwargs):
                held.asked.set()
                assert held.release.wait(30)
                return pipeline.ask(*args, **kwargs)

        return Waiting()

    def status(self, desk: str):
        return self.inner.status(desk)

    def check_store(self) -> None:
        self.inner.check_store()


def ask_in_background(url: str) -> tuple[threading.Thread, list[httpx.Response]]:
    replies: list[httpx.Response] = []

    def ask() -> None:
        replies.append(httpx.post(f"{url}/v1/ask", json={"question": QUESTIONS[0]}, timeout=60))

    thread = threading.Thread(target=ask)
    thread.start()
    return thread, replies


def test_past_the_bound_a_request_is_refused_at_once(desk_pipelines):
    held = Held(desk_pipelines)
    served = start(held, concurrency=1, queue=0)
    try:
        thread, replies = ask_in_background(served.url)
        assert held.asked.wait(30)
        with httpx.Client(base_url=served.url, timeout=60) as api:
            reply = api.post("/v1/ask", json={"question": QUESTIONS[1]})
            refused(reply, 429, "too_many_requests", "try again")
            assert reply.headers["retry-after"] == "1"
            assert api.get("/healthz").status_code == 200  # busy is not unhealthy
            held.release.set()
            thread.join(60)
            assert replies[0].status_code == 200
            still_answers(api)
    finally:
        held.release.set()
        served.stop()
        served.join()


def test_a_slow_client_holds_no_thread_and_is_cut_off(desk_pipelines):
    served = start(desk_pipelines, concurrency=1, queue=0, body_pause_seconds=1.0)
    try:
        with socket.create_connection(("127.0.0.1", served.port), timeout=30) as slow:
            slow.sendall(
                b"POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"question": "How many'
            )
            with httpx.Client(base_url=served.url, timeout=60) as api:
                still_answers(api)  # on the one thread there is, while the slow body waits
            head, _, body = _read_response(slow).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408")
        assert json.loads(body)["error"]["code"] == "request_timeout"
    finally:
        served.stop()
        served.join()


def test_stopping_lets_the_answer_in_flight_finish(desk_pipelines):
    held = Held(desk_pipelines)
    served = start(held)
    thread, replies = ask_in_background(served.url)
    assert held.asked.wait(30)
    served.stop()  # what SIGTERM does: no new connections, the open ones finish
    _wait_until_closed(served.port)
    held.release.set()
    thread.join(60)
    served.join()
    assert replies[0].status_code == 200 and replies[0].json()["answered"]


def _wait_until_closed(port: int) -> None:
    """Until the server takes no new connection: it has begun to stop."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return
        time.sleep(0.05)
    raise AssertionError("the server still takes connections")


def _read_response(sock: socket.socket) -> bytes:
    """One HTTP response, read until its Content-Length is in."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lengths = [
            line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        ]
        if lengths and len(body) >= int(lengths[0].split(b":")[1]):
            break
    return data


def test_the_body_timeout_never_cuts_an_answer_being_streamed(desk_pipelines):
    held = Held(desk_pipelines)
    served = start(held, body_pause_seconds=0.2)
    try:
        events: list[str] = []

        def stream() -> None:
            body = {"question": QUESTIONS[0], "stream": True}
            with httpx.stream("POST", f"{served.url}/v1/ask", json=body, timeout=60) as reply:
                events.extend(line for line in reply.iter_lines() if line.startswith("event:"))

        thread = threading.Thread(target=stream)
        thread.start()
        assert held.asked.wait(30)
        time.sleep(1.0)  # the answer takes longer than a body may pause
        held.release.set()
        thread.join(60)
        assert events == ["event: answer"]
    finally:
        held.release.set()
        served.stop()
        served.join()
