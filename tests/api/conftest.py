"""Fixtures for the doors (`factdesk serve`, `factdesk mcp`): the real pipeline over a copy of
the seed index, with a second desk that holds nothing, served by `factdesk serve`'s own app under
uvicorn on a free loopback port, in a thread of the test process.

What the doors answer is compared with what `factdesk ask --json` prints for the same
questions: the real command, run once per test process on its own copy of the index.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from pydantic import SecretStr

from factdesk.api.access import Tokens, parse_tokens
from factdesk.api.app import create_app
from factdesk.api.gateway import Gateway
from factdesk.api.server import config
from factdesk.config import Settings
from factdesk.desks import Desk, Desks
from factdesk.service import DeskPipelines
from tests.conftest import SEEDS, invoke_factdesk

# Four answerable seed questions and one the article does not answer.
QUESTIONS = [
    "How many advisers remain?",
    "Which newspaper broke the story about the withdrawal?",
    "What reason did the Kremlin give for having Russian specialists in the country?",
    "Why has the pullout sped up lately?",
    "What is the capital of France?",
]
FIRST = "Who is Russia's ambassador in Venezuela?"
FOLLOW_UP = "What did he say?"
FULL_TOKEN = "full-access-token-0123456789"
DEFAULT_ONLY = "default-desk-token-0123456789"
TOKENS = f"{FULL_TOKEN}, {DEFAULT_ONLY}=default"
DESKS = ("default", "empty")


class Served:
    """An app under uvicorn on a free loopback port, in a thread. A thread gets no signals:
    `stop` does what SIGTERM does (uvicorn's graceful stop)."""

    def __init__(self, app, shutdown_seconds: float = 10) -> None:
        self.app = app
        self.server = uvicorn.Server(config(app, "127.0.0.1", 0, shutdown_seconds))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True

    def join(self, timeout: float = 30) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the server did not stop"


def copy_index(settings: Settings, folder: Path) -> Settings:
    index = shutil.copytree(settings.index_dir, folder / "index")
    return settings.model_copy(update={"index_dir": index})


@pytest.fixture(scope="module")
def desk_pipelines(seed_settings, seed_pipeline, embedder, tmp_path_factory) -> DeskPipelines:
    """The default desk over a copy of the seed index, and an `empty` desk with nothing indexed,
    sharing the session's model and reader, as `load_desk_pipelines` would load them."""
    settings = copy_index(seed_settings, tmp_path_factory.mktemp("doors"))
    desks = Desks({name: Desk(name) for name in DESKS})
    pipelines = DeskPipelines(settings, desks, embedder, seed_pipeline.reader, None)
    for name in DESKS:
        pipelines.pipeline(name)
    return pipelines


def start(
    pipelines, tokens: Tokens | None = None, concurrency: int = 4, queue: int = 32, **options
) -> Served:
    gateway = Gateway(pipelines, "default", concurrency, queue)
    return Served(create_app(gateway, tokens or Tokens(), "127.0.0.1", **options))


@pytest.fixture(scope="module")
def serve_app() -> Iterator[Callable[..., Served]]:
    """Start servers (see `start`); every one is stopped after the module."""
    started: list[Served] = []

    def serve(*args, **kwargs) -> Served:
        started.append(start(*args, **kwargs))
        return started[-1]

    yield serve
    for served in started:
        served.stop()
    for served in started:
        served.join()


@pytest.fixture(scope="module")
def server(serve_app, desk_pipelines) -> Served:
    """The doors without tokens, on loopback, as `factdesk serve` runs by default."""
    return serve_app(desk_pipelines)


@pytest.fixture(scope="module")
def guarded(serve_app, desk_pipelines) -> Served:
    """The doors asking for a token: FULL_TOKEN for every desk, DEFAULT_ONLY for `default`."""
    return serve_app(desk_pipelines, parse_tokens(SecretStr(TOKENS), DESKS))


@pytest.fixture(scope="session")
def ask_json(seed_settings, seed_pipeline, embedder, tmp_path_factory) -> dict[str, dict]:
    """What `factdesk ask --json -` prints for QUESTIONS and for FOLLOW_UP after FIRST, by
    question: the real command in this process, with the session's model (loading it again
    would change nothing but the time), on its own copy of the seed index."""
    from factdesk.search.embeddings import Embedder

    settings = copy_index(seed_settings, tmp_path_factory.mktemp("ask-json"))
    first = seed_pipeline.ask(FIRST).answer
    lines = [*QUESTIONS, FIRST]
    lines.append(
        json.dumps({"question": FOLLOW_UP, "history": [{"question": FIRST, "answer": first}]})
    )
    env = {"FACTDESK_INDEX_DIR": str(settings.index_dir), "FACTDESK_SEEDS_DIR": str(SEEDS)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Embedder, "from_settings", staticmethod(lambda _: embedder))
        ran = invoke_factdesk("ask", "--json", "-", env=env, stdin="\n".join(lines) + "\n")
    assert ran.returncode == 0, ran.stderr
    answers = [json.loads(line) for line in ran.stdout.splitlines()]
    assert len(answers) == len(lines)
    return {answer["question"]: answer for answer in answers}
