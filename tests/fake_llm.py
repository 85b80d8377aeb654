"""A stand-in for an OpenAI-compatible LLM server (Ollama, vLLM, llama.cpp, OpenAI), on loopback.

It serves `POST /v1/chat/completions` over real HTTP, as JSON or as a server-sent-event stream
when the request asks for `"stream": true`, so llama-index's OpenAILike and the openai client run
unchanged. Each test scripts its replies: text, an HTTP status, a delay, garbage, a stall in the
middle of a stream. Every request is recorded, headers included.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """What the server answers to one request."""

    text: str | Callable[[Request], str] = ""  # a function writes its answer from the prompt
    status: int = 200
    delay: float = 0.0  # seconds before anything is sent
    raw: bytes | None = None  # sent as the body instead of a completion (garbage)
    stall_after: int | None = None  # stream: stop sending after this many pieces, keep open
    # Held replies wait (before sending, or where they stall) until the test sets this: a test
    # then knows the client gave up while the model was still busy, with no clock involved.
    hold: threading.Event | None = None

    def wait(self, seconds: float) -> None:
        if self.hold is not None:
            self.hold.wait(30)
        elif seconds:
            time.sleep(seconds)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict

    @property
    def messages(self) -> list[dict]:
        return self.body.get("messages", [])

    @property
    def prompt(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.messages)


@dataclass
class FakeLLM:
    """The server. `reply_with` queues replies (first in, first out); `default` answers when the
    queue is empty; `condense` (if set) answers requests that are the condense prompt."""

    default: Reply = field(default_factory=lambda: Reply("NOT IN PASSAGES"))
    condense: Reply | None = None
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply_with(self, *replies: Reply | str) -> None:
        with self._lock:
            self._replies.extend(Reply(r) if isinstance(r, str) else r for r in replies)

    def next_reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self.condense is not None and "standalone question" in request.prompt:
                return self.condense
            return self._replies.popleft() if self._replies else self.default

    @property
    def answer_requests(self) -> list[Request]:
        return [r for r in self.requests if "Passages:" in r.prompt]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """Clients that give up (timeouts under test) close the socket mid-reply: expected."""
        if not isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            super().handle_error(request, client_address)


def _handler_for(llm: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = json.loads(raw or b"{}")
            request = Request(self.path, dict(self.headers.items()), body)
            reply = llm.next_reply(request)
            reply.wait(reply.delay)
            if not self.path.endswith("/chat/completions"):
                self._send(404, b'{"error": {"message": "not found"}}')
            elif reply.raw is not None:
                self._send(reply.status, reply.raw)
            elif reply.status != 200:
                error = {"error": {"message": "the model crashed", "type": "server_error"}}
                self._send(reply.status, json.dumps(error).encode())
            elif body.get("stream"):
                self._stream(body.get("model", ""), _text(reply, request), reply)
            else:
                completion = _completion(body.get("model", ""), _text(reply, request))
                self._send(200, json.dumps(completion).encode())

        def _send(self, status: int, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, model: str, text: str, reply: Reply) -> None:
            stall_after = reply.stall_after
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for number, piece in enumerate(_pieces(text)):
                if stall_after is not None and number >= stall_after:
                    reply.wait(30)  # hold the connection open, sending nothing
                    return
                self._event(_chunk(model, {"content": piece}, None))
            self._event(_chunk(model, {}, "stop"))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

        def _event(self, data: dict) -> None:
            self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests read `requests`."""

    return Handler


def _text(reply: Reply, request: Request) -> str:
    return reply.text(request) if callable(reply.text) else reply.text


def _pieces(text: str) -> list[str]:
    """The text in word-sized pieces, as a model streams tokens."""
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


def _completion(model: str, text: str) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(model: str, delta: dict, finish: str | None) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
