"""Fixtures for the Slack bot: a fake Slack, settings pointing at it, and running apps.

Unit tests use `FakeAnswerer` (instant, scriptable); end-to-end tests use the real answerer over
the seed article (`seed_answerer`, loaded once per session by tests/conftest.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from factdesk.answers import NOT_FOUND, Answer, Citation
from factdesk.config import Settings
from factdesk.errors import QuestionError
from factdesk.slack import create_app
from factdesk.slack.server import EVENTS_PATH, SlackHTTPServer
from factdesk.slack.store import Store, store_path
from tests.slack.fake_slack import APP_TOKEN, BOT_TOKEN, BOT_USER_ID, SIGNING_SECRET, FakeSlackAPI
from tests.slack.payloads import SlackSender

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
def store(slack_settings: Settings) -> Store:
    return Store(store_path(slack_settings))


@pytest.fixture
def client(fake_api: FakeSlackAPI) -> WebClient:
    """A real WebClient, talking to the fake API: what handlers get from Bolt."""
    return WebClient(token=BOT_TOKEN, base_url=fake_api.api_url)


@pytest.fixture
def context() -> BoltContext:
    return BoltContext(bot_user_id=BOT_USER_ID)


@pytest.fixture
def answerer(request: pytest.FixtureRequest):
    """The real service over the seed article (answerer loaded once per session), no LLM."""
    from factdesk.service import Service

    return Service(request.getfixturevalue("seed_answerer"))


@dataclass
class RunningApp:
    """A bot served over HTTP on loopback, and a way to post to it as Slack would."""

    app: App
    slack: SlackSender
    url: str

    def drain(self) -> None:
        """Wait until every answer the app started has been posted (and stop taking more)."""
        self.app.listener_runner.listener_executor.shutdown(wait=True)


@pytest.fixture
def serve_app(slack_settings: Settings) -> Iterator[Callable[..., RunningApp]]:
    """Start the bot over HTTP with a given answerer; stopped after the test."""
    servers: list[SlackHTTPServer] = []

    def start(answerer, settings: Settings = slack_settings) -> RunningApp:
        app = create_app(settings, answerer)
        server = SlackHTTPServer(app, ("127.0.0.1", 0))
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append(server)
        url = f"http://127.0.0.1:{server.server_port}{EVENTS_PATH}"
        return RunningApp(app=app, slack=SlackSender(url, SIGNING_SECRET), url=url)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
