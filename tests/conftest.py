"""Shared fixtures: the real model, loaded once per session, and a real seed-article index."""

from __future__ import annotations

import gc
import importlib
import itertools
import os
import re
import shutil
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
SEED_QUESTIONS = REPO / "src" / "factdesk" / "evaluation" / "seed_questions.jsonl"
DATED = REPO / "tests" / "data" / "dated"  # two articles that disagree: 300 advisers, then 40


def pytest_configure(config: pytest.Config) -> None:
    """Tests never see the developer's factdesk or Slack settings."""
    for name in list(os.environ):
        if name.startswith(("FACTDESK_", "SLACK_")):
            del os.environ[name]
    os.environ["HF_HUB_OFFLINE"] = "1"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without the interpreter's last garbage collection: in a worker that has loaded
    torch and transformers it takes seconds, all workers at once, at the end of the suite."""
    gc.freeze()


def make_settings(index_dir: Path, **overrides):
    """Settings for a test; its news servers run on loopback, which fetching refuses by default."""
    from factdesk.config import Settings

    overrides.setdefault("fetch_allow_private", True)
    return Settings(_env_file=None, index_dir=index_dir, seeds_dir=SEEDS, **overrides)


@pytest.fixture(scope="session")
def embedder():
    from factdesk.search.embeddings import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def reader():
    """The reader shipped in the package, loaded once."""
    from factdesk.answer.reader import Reader

    return Reader()


class FakeEmbedder:
    """A deterministic stand-in for the model, as simonw/llm's tests use a fake model: each word
    is hashed to one of 384 axes, so texts that share words are alike. For tests of what is
    built around the embedding (indexing, versions, storage); quality tests use the real one."""

    name = "fake-word-hashes"
    dimensions = 384

    def embed(self, texts, batch_size: int = 8):
        import numpy as np

        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row, 0] = 1e-3  # an empty text still gets a direction
            for start, end in self.token_spans(text):
                word = text[start:end].lower().encode()
                vectors[row, zlib.crc32(word) % self.dimensions] += 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_one(self, text: str):
        return self.embed([text])[0]

    def embed_in_context(self, texts, spans, batch_size: int = 8):
        """Spans get the vectors of their own words, as if read alone."""
        own = [
            self.embed([text[start:end] for start, end in text_spans])
            for text, text_spans in zip(texts, spans, strict=True)
        ]
        return self.embed(texts, batch_size), own

    def count_tokens(self, texts) -> list[int]:
        return [len(self.token_spans(text)) for text in texts]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [match.span() for match in re.finditer(r"\w+|[^\w\s]", text)]


def assert_no_sentence_cited_twice(question: str, citations) -> None:
    """The seed article's passages overlap: a sentence two of them hold is one citation."""
    places = sorted((c.source, c.start, c.end) for c in citations)
    for (source, _, end), (other, start, _) in itertools.pairwise(places):
        assert source != other or end <= start, (question, places)


@pytest.fixture(scope="session")
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fake_model(monkeypatch, fake_embedder) -> dict:
    """Commands run in this process load the fake model instead of the real one, for what does
    not depend on the model; `fake_model["model"]` may be swapped for another."""
    from factdesk.search.embeddings import Embedder

    loaded = {"model": fake_embedder}
    monkeypatch.setattr(Embedder, "from_settings", staticmethod(lambda settings: loaded["model"]))
    return loaded


@pytest.fixture
def benchmark_script(monkeypatch):
    """A script of benchmarks/ as a module, by name: the tests run the code that measures."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    return importlib.import_module


@pytest.fixture
def news():
    """A news site on loopback (newsserver.py): its articles and feeds, and the routes a test
    adds."""
    from tests.newsserver import NewsServer, news_site

    with NewsServer() as server:
        news_site(server)
        yield server


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory):
    return make_settings(tmp_path_factory.mktemp("seed-index"))


@pytest.fixture(scope="session")
def seed_pipeline(seed_settings, embedder):
    """The pipeline as shipped (default settings: the trained reader) over the seed article."""
    from factdesk.service import load_pipeline

    return load_pipeline(seed_settings, embedder=embedder)


@pytest.fixture
def seed_index(tmp_path, seed_pipeline, seed_settings) -> Path:
    """A copy of the seed index at tmp_path/index, for a factdesk process that should answer at
    once rather than index the seed article first (which tests of that first run check)."""
    return shutil.copytree(seed_settings.index_dir, tmp_path / "index")


@pytest.fixture(scope="session")
def dated_settings(tmp_path_factory, embedder):
    """An index of the dated articles and the seed article, with recency at its defaults."""
    from factdesk.ingest.indexer import Indexer

    settings = make_settings(tmp_path_factory.mktemp("dated-index"))
    Indexer(settings, embedder).index_paths([DATED, SEEDS])
    return settings


def with_llm(pipeline, llm):
    """The same pipeline (model, index, reader) with an LLM answering too."""
    from factdesk.answer.pipeline import Pipeline

    return Pipeline(pipeline.settings, pipeline.embedder, pipeline.retriever, pipeline.reader, llm)


def bounded(seconds: float, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`function(*args, **kwargs)` on a thread of its own; the test fails when it has not
    returned within `seconds` (a hang), instead of waiting for it for ever."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as exc:  # handed to the test, whatever it is
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_factdesk(
    *args: str, env: dict, cwd: Path = REPO, stdin: str | None = None, timeout: float = 300
):
    """The real `factdesk` command in a subprocess, the way people run it."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "factdesk", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


@dataclass
class Ran:
    """What a `factdesk` command did, run in this process: as a finished subprocess reports."""

    returncode: int
    stdout: str
    stderr: str


def invoke_factdesk(*args: str, env: dict[str, str], stdin: str | None = None) -> Ran:
    """The real `factdesk` command, run in this process as simonw/llm's tests run theirs:
    a fraction of a second where a new process spends seconds importing and loading models.
    What only a process shows (signals, kills, what gets imported) uses `run_factdesk`."""
    from click.testing import CliRunner

    from factdesk.cli import main

    # main() always exits, with the status
    with (
        CliRunner().isolation(input=stdin, env=env) as (out, err, _),
        pytest.raises(SystemExit) as exited,
    ):
        main(list(args))
    return Ran(int(exited.value.code), out.getvalue().decode(), err.getvalue().decode())


class ChromaServer:
    """A real `chroma run` on a free loopback port, which tests can stop and start again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        self.process = None

    def start(self) -> None:
        import subprocess
        import sys
        import time
        import urllib.request

        chroma = Path(sys.executable).with_name("chroma")
        self.process = subprocess.Popen(
            [
                str(chroma),
                "run",
                "--path",
                str(self.path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("chroma run did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None


@pytest.fixture
def chroma_server(tmp_path):
    server = ChromaServer(tmp_path / "chroma-server")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def baseline_pipeline(seed_settings, seed_pipeline, embedder):
    """The pipeline without a reader (`FACTDESK_READER=none`) over the same index, for tests of
    what is built around the answer (LLM checks, conversations) rather than the reader."""
    from factdesk.service import NO_READER, load_pipeline

    return load_pipeline(seed_settings, embedder=embedder, reader=NO_READER)
