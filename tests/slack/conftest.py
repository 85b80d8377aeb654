"""Fixtures for the Slack bot: a fake Slack, settings pointing at it, and running apps.

Unit tests use `FakeAnswerer` (instant, scriptable); end-to-end tests use the real answerer over
the seed article (`seed_pipeline`, loaded once per session by tests/conftest.py).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from fakes.slack import APP_TOKEN, BOT_TOKEN, BOT_USER_ID, SIGNING_SECRET, FakeSlackAPI
from fakes.slack_payloads import SlackSender
from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from factdesk.answer.answers import NOT_FOUND, Answer, Citation
from factdesk.config import Settings
from factdesk.desks import Desks
from factdesk.errors import QuestionError
from factdesk.slack import create_app
from factdesk.slack.database import BotDatabase, database_path
from factdesk.slack.health import Health, Probe
from factdesk.slack.replies import Replier
from factdesk.slack.server import EVENTS_PATH, HEALTH_PATH, SlackServer, config
from tests.conftest import free_port

SEED_URL = "https://www.themoscowtimes.com/2019/06/02/russia-withdraws-advisers-venezuela"


class FakeAnswerer:
    """Answers like the real one about the seed article, at once; can be told to fail."""

    streams = False

    def __init__(self) -> None:
        self.questions: list[str] = []
        self.histories: list[list] = []
        self.failure: Exception | None = None

    def ask(self, question: str, history=(), top_k: int | None = None, on_text=None) -> Answer:
        """What the bot calls: the answer, with the conversation's earlier turns recorded."""
        self.histories.append(list(history))
        return self.answer(question, top_k)

    def answer(self, question: str, top_k: int | None = None) -> Answer:
        self.questions.append(question)
        if self.failure is not None:
            raise self.failure
        if not question.strip():
            raise QuestionError("The question is empty.")
        if "advisers" not in question.lower():
            return Answer(question, False, NOT_FOUND)
        quote = "Rostec has cut its defense advisers in Venezuela to “just a few dozen” now."
        citation = Citation(
            n=1,
            quote=quote,
            passage=quote,
            source="seeds/000_d17e3c436e124a59.txt",
            title="Russia Withdraws Advisers From Venezuela",
            url=SEED_URL,
            start=0,
            end=len(quote),
            score=0.9,
        )
        return Answer(question, True, f"{quote} [1]", [citation])


class SlowAnswerer:
    """An answerer that takes as long as the test wants: until `release` is set."""

    def __init__(self, answerer) -> None:
        self.answerer = answerer
        self.release = threading.Event()

    streams = False

    def ask(self, question: str, history=(), top_k: int | None = None, on_text=None):
        assert self.release.wait(10)
        return self.answerer.ask(question, history, top_k)


class OneDesk:
    """What `load_desk_pipelines` gives the bot, around a single (fake) answerer: the default
    desk alone, as without a desks file."""

    def __init__(self, answerer, settings: Settings) -> None:
        self.answerer = answerer
        self.settings = settings
        self.desks = Desks.single()

    def for_channel(self, channel: str):
        return self.answerer

    def check_store(self) -> None:
        """Always reachable."""


def one_desk(answerer) -> Callable[..., OneDesk]:
    """A stand-in for `app.load_desk_pipelines` that answers with `answerer`."""
    return lambda settings, *args, **kwargs: OneDesk(answerer, settings)


@pytest.fixture
def fake_answerer() -> FakeAnswerer:
    return FakeAnswerer()


@pytest.fixture
def fake_api() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def slack_settings(tmp_path: Path, fake_api: FakeSlackAPI) -> Settings:
    """Settings for a bot talking to the fake API, its database in a fresh directory."""
    return Settings(
        _env_file=None,
        index_dir=tmp_path / "index",
        slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_api.api_url,
    )


@pytest.fixture
def store(slack_settings: Settings) -> BotDatabase:
    return BotDatabase(database_path(slack_settings))


@pytest.fixture
def replier(fake_answerer: FakeAnswerer, store: BotDatabase) -> Replier:
    """The bot's replier around the fake answerer, as the app's handlers get it."""
    return Replier(answerer=fake_answerer, database=store)


@pytest.fixture
def client(fake_api: FakeSlackAPI) -> WebClient:
    """A real WebClient, talking to the fake API: what handlers get from Bolt."""
    return WebClient(token=BOT_TOKEN, base_url=fake_api.api_url)


@pytest.fixture
def context() -> BoltContext:
    return BoltContext(bot_user_id=BOT_USER_ID)


@pytest.fixture
def answerer(request: pytest.FixtureRequest):
    """The real pipeline over the seed article (loaded once per session), no LLM."""
    return request.getfixturevalue("seed_pipeline")


class ServerThread:
    """`factdesk slack --http`'s server (uvicorn and SlackServer) on a free loopback port, in a
    thread of the test process. It cannot receive signals there: `stop` does what SIGTERM
    does."""

    def __init__(self, load: Callable[[Health], App]) -> None:
        self.asgi = SlackServer(load)
        self.server = uvicorn.Server(config(self.asgi, "127.0.0.1", 0))
        self.asgi.stop_server = self.stop
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"

    @property
    def url(self) -> str:
        return self.base + EVENTS_PATH

    @property
    def health_url(self) -> str:
        return self.base + HEALTH_PATH

    def wait_until_loaded(self) -> None:
        deadline = time.monotonic() + 10
        while self.asgi.app is None:
            assert time.monotonic() < deadline, f"not loaded: {self.asgi.load_error!r}"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True

    def join(self, timeout: float = 30) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the server did not stop"


@dataclass
class RunningApp:
    """A bot served over HTTP on loopback, and a way to post to it as Slack would."""

    app: App
    slack: SlackSender
    url: str
    server: ServerThread | None = field(default=None, repr=False)

    def drain(self) -> None:
        """Wait until every answer the app started has been posted (and stop taking more)."""
        self.app.listener_runner.listener_executor.shutdown(wait=True)


@pytest.fixture
def serve_app(slack_settings: Settings) -> Iterator[Callable[..., RunningApp]]:
    """Start the bot over HTTP with a given answerer; stopped after the test. `probes` are what
    /healthz checks; other keywords go to `create_app`."""
    servers: list[ServerThread] = []

    def start(
        answerer, settings: Settings = slack_settings, probes: list[Probe] = (), **options
    ) -> RunningApp:
        def load(health: Health) -> App:
            app = create_app(settings, answerer, on_refused=health.refuse, **options)
            health.loaded(probes)
            return app

        server = ServerThread(load)
        servers.append(server)
        server.wait_until_loaded()
        slack = SlackSender(server.url, SIGNING_SECRET)
        return RunningApp(app=server.asgi.app, slack=slack, url=server.url, server=server)

    yield start
    for server in servers:
        server.stop()
    for server in servers:
        server.join()


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A real redis-server (Debian's package) on a free loopback port, for the session."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not listening(port):
        assert process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)
