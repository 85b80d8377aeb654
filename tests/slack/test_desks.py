"""Desks in Slack, end to end: the real Bolt app served over HTTP, signed requests as Slack sends
them, the real model and reader, the fake Slack Web API and a news site on loopback.

The energy desk is declared in a desks file with a folder of articles and a channel; the coast
desk has a channel and no sources until an admin adds the news site's feed from Slack; every
other channel answers from the default desk (the seed article).
"""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

import pytest
from fakes.slack import FakeSlackAPI
from fakes.slack_payloads import app_mention, block_actions, event_callback, slash_command

from factdesk.answer.answers import NOT_FOUND
from factdesk.desk_manager import DeskManager
from factdesk.desks import load_desks
from factdesk.refresher import Refresher
from factdesk.service import DeskPipelines
from factdesk.slack.blocks import VOTE_UP
from factdesk.slack.database import BotDatabase, database_path
from factdesk.slack.desks import NOT_ADMIN
from factdesk.slack.redis_memory import RedisMemory
from tests.conftest import SEEDS, bounded
from tests.newsserver import (
    HARBOUR_TITLE,
    NEWS,
    Response,
    fixed,
    redirect,
    rss,
)

ENERGY, COAST, ELSEWHERE = "CENERGY", "CCOAST", "CGENERAL"
ADMIN, REPORTER = "UADMIN", "UREPORTER"
PDVSA_QUESTION = "How many barrels per day did PDVSA export in April?"
FERRY_QUESTION = "When will the harbour ferry resume?"
ADVISERS_QUESTION = "How many advisers remain in Venezuela?"


# The real model and reader, the bot served over HTTP, news sites on loopback.
pytestmark = pytest.mark.slow


@pytest.fixture
def desk_settings(slack_settings, tmp_path: Path):
    energy = tmp_path / "articles" / "energy"
    energy.mkdir(parents=True)
    shutil.copy(NEWS / "pdvsa_debt.txt", energy)
    desks_file = tmp_path / "desks.toml"
    desks_file.write_text(
        f'[desks.energy]\nsources = ["articles/energy"]\nchannels = ["{ENERGY}"]\n\n'
        f'[desks.coast]\nchannels = ["{COAST}"]\n'
    )
    return slack_settings.model_copy(
        update={
            "desks_file": desks_file,
            "seeds_dir": SEEDS,
            "slack_admins": f"{ADMIN}, UOTHERADMIN",
            "fetch_allow_private": True,  # the news site is on loopback
            "refresh_minutes": 0,
        }
    )


class Bot:
    """A running bot with desks, and what a test does with it."""

    def __init__(self, running, manager: DeskManager, api: FakeSlackAPI) -> None:
        self.running, self.manager, self.api = running, manager, api
        self._responses = 0

    def settle(self) -> None:
        """Every listener started has finished, and so has the index work it queued."""
        self.running.app.listener_runner.listener_executor.settle()
        self.manager.settle()

    def command(self, text: str, *, channel: str, user: str) -> int:
        payload = {**slash_command(text, self.api.response_url(), channel=channel), "user_id": user}
        reply = self.running.slack.form(payload)
        self.settle()
        return reply.status

    def private_replies(self) -> list[str]:
        """The texts sent to the command's response_url since the last call."""
        calls = self.api.calls_to("response_url")
        new, self._responses = calls[self._responses :], len(calls)
        return [call.body.get("text", "") for call in new]

    def ask(self, question: str, *, channel: str) -> dict:
        event = app_mention(question, channel=channel)
        assert self.running.slack.event(event_callback(event)).status == 200
        self.settle()
        (reply,) = [
            call.body
            for call in self.api.calls_to("chat.postMessage")
            if call.body.get("thread_ts") == event["ts"]
        ]
        return reply

    def thread(self, announcement: str) -> list[str]:
        """The replies posted under the channel message that contains `announcement`."""
        posts = self.api.calls_to("chat.postMessage")
        (head,) = [c for c in posts if "thread_ts" not in c.body and announcement in c.body["text"]]
        return [c.body["text"] for c in posts if c.body.get("thread_ts") == head.reply["ts"]]


@pytest.fixture(params=["sqlite", "redis"])
def shared_memory(request, tmp_path):
    """Where bot processes keep what they share: the SQLite database beside the index (None),
    or a Redis server; a factory, each call a new process's connection."""
    if request.param == "sqlite":
        return lambda: None
    url = request.getfixturevalue("redis_url")
    prefix = f"test-{uuid.uuid4().hex}:"
    return lambda: RedisMemory.connect(url, prefix)


@pytest.fixture
def start_bot(serve_app, embedder, seed_pipeline, fake_api):
    """Start a bot with desks over `settings` (every start loads the desks anew, as a restart
    does), keeping its memory in `memory` (None: SQLite); the model and reader are the
    session's."""

    def start(settings, memory=None) -> Bot:
        pipelines = DeskPipelines(
            settings, load_desks(settings), embedder, seed_pipeline.reader, None
        )
        kept = memory or BotDatabase(database_path(settings))
        manager = DeskManager(pipelines, kept, settings.admins)
        manager.fill_empty()
        manager.settle()
        running = serve_app(pipelines, settings, desks=manager, memory=memory)
        return Bot(running, manager, fake_api)

    return start


def test_each_channel_answers_from_its_own_desk(start_bot, desk_settings):
    bot = start_bot(desk_settings)
    energy = bot.ask(PDVSA_QUESTION, channel=ENERGY)
    assert "812,000" in energy["text"] and "PDVSA" in energy["text"]
    # Only the default desk (the seed article) knows about the advisers.
    declined = bot.ask(ADVISERS_QUESTION, channel=ENERGY)
    assert declined["text"].startswith(NOT_FOUND)
    assert "Rostec" not in str(declined["blocks"])
    general = bot.ask(ADVISERS_QUESTION, channel=ELSEWHERE)
    assert not general["text"].startswith(NOT_FOUND)
    assert "Rostec has cut its defense advisers" in general["text"]
    assert "defense conglomerate has withdrawn" in general["text"]  # the seed article's name
    assert "PDVSA" not in general["text"]
    assert bot.ask(PDVSA_QUESTION, channel=COAST)["text"] == NOT_FOUND  # an empty desk


def test_anyone_lists_the_sources_of_their_channels_desk(start_bot, desk_settings):
    bot = start_bot(desk_settings)
    assert bot.command("sources", channel=ENERGY, user=REPORTER) == 200
    (listing,) = bot.private_replies()
    assert listing.startswith("*energy* desk: 1 article, ")
    assert "last refreshed 20" in listing  # a date: the desk was indexed at start-up
    assert "• articles/energy (desks file)" in listing  # as the file says, not the server path
    assert "Venezuela's PDVSA Ships More Crude to China" in listing
    bot.command("sources", channel=COAST, user=REPORTER)
    assert bot.private_replies() == ["*coast* desk: 0 articles, 0 passages; last refreshed never."]
    bot.command("remove articles/energy", channel=ENERGY, user=ADMIN)
    assert bot.private_replies() == [
        "articles/energy is declared in the desks file: remove it there."
    ]


def test_an_admin_adds_a_feed_which_is_answered_then_removes_it(
    start_bot, desk_settings, news, caplog
):
    caplog.set_level(logging.INFO, logger="factdesk")
    caplog.set_level(logging.INFO, logger="factdesk.slack")
    bot = start_bot(desk_settings)
    feed = news.url("/feed.xml")
    bot.command(f"add {feed}", channel=COAST, user=REPORTER)
    assert bot.private_replies() == [NOT_ADMIN]
    assert news.requests == []

    bot.command(f"add <{feed}>", channel=COAST, user=ADMIN)  # Slack sends links in brackets
    progress = bot.thread(f"<@{ADMIN}> is adding {feed} to the *coast* desk")
    assert progress[0] == f"Fetching {feed}…"
    assert progress[1] == "Found 2 articles; indexing them into the coast desk…"
    assert progress[2].startswith("Done: 2 added, 0 updated, 0 unchanged.")
    assert "12 May" in bot.ask(FERRY_QUESTION, channel=COAST)["text"]
    assert bot.ask(FERRY_QUESTION, channel=ENERGY)["text"].startswith(NOT_FOUND)
    logged = [record.getMessage() for record in caplog.records]
    assert f"Source {feed} added to desk coast by {ADMIN} (2 articles)" in logged
    assert f"Refused /factdesk add from {REPORTER}: not in FACTDESK_SLACK_ADMINS" in logged

    bot.command("sources", channel=COAST, user=REPORTER)
    (listing,) = bot.private_replies()
    assert f"• {feed}: 2 articles, added by <@{ADMIN}> 20" in listing
    assert HARBOUR_TITLE in listing

    bot.command(f"remove {feed}", channel=COAST, user=REPORTER)
    assert bot.private_replies() == [NOT_ADMIN]
    bot.command(f"remove {feed}", channel=COAST, user=ADMIN)
    assert bot.private_replies() == [f"Removed {feed} from the coast desk (2 articles)."]
    assert f"Source {feed} removed from desk coast by {ADMIN}" in caplog.messages
    assert bot.ask(FERRY_QUESTION, channel=COAST)["text"] == NOT_FOUND


def home_texts(view: dict) -> list[str]:
    return [
        block.get("text", {}).get("text", "") or block.get("elements", [{}])[0].get("text", "")
        for block in view["blocks"]
    ]


def test_the_home_tab_shows_your_desks_their_sources_and_the_feedback(
    start_bot, desk_settings, fake_api
):
    bot = start_bot(desk_settings)
    answer = bot.ask(PDVSA_QUESTION, channel=ENERGY)
    answer_id = answer["blocks"][-1]["elements"][0]["value"]
    vote = block_actions(VOTE_UP, answer_id, bot.api.response_url(), channel=ENERGY)
    assert bot.running.slack.action(vote).status == 200
    bot.settle()
    fake_api.memberships = {ADMIN: [ENERGY, ELSEWHERE], REPORTER: [COAST]}

    opened = {"type": "app_home_opened", "user": ADMIN, "channel": "D1", "tab": "home"}
    assert bot.running.slack.event(event_callback(opened)).status == 200
    messages_tab = {**opened, "user": REPORTER, "tab": "messages"}
    bot.running.slack.event(event_callback(messages_tab))
    bot.running.slack.event(event_callback({**opened, "user": REPORTER}))
    bot.settle()
    # the two events are handled on two threads: their views may be published in either order
    published = {call.body["user_id"]: call.body for call in bot.api.calls_to("views.publish")}
    assert set(published) == {ADMIN, REPORTER}
    admin, reporter = published[ADMIN], published[REPORTER]
    assert admin["view"]["type"] == "home"
    texts = home_texts(admin["view"])
    energy = next(text for text in texts if text.startswith("*energy* desk"))
    assert f"(<#{ENERGY}>): 1 article, last refreshed 20" in energy
    assert "• articles/energy (desks file)" in energy
    assert any(text.startswith("*default* desk (channels without a desk)") for text in texts)
    assert not any(text.startswith("*coast* desk") for text in texts)
    assert f"Other desks:\n• *coast* (<#{COAST}>)" in texts
    assert "• extractive: 1 answer, 👍 1 · 👎 0" in texts
    assert any("/factdesk add URL" in text for text in texts)

    theirs = home_texts(reporter["view"])
    assert any(t.startswith("*coast* desk") and "last refreshed never" in t for t in theirs)
    assert f"Other desks:\n• *energy* (<#{ENERGY}>)" in theirs
    assert not any("/factdesk add URL" in text for text in theirs)


def test_without_channels_read_the_home_tab_shows_every_desk(start_bot, desk_settings, fake_api):
    """An app installed before the Home tab asked for channels:read: Slack refuses to list the
    user's channels, and every desk is shown."""
    bot = start_bot(desk_settings)
    fake_api.refuse_once("users.conversations", "missing_scope")
    opened = {"type": "app_home_opened", "user": REPORTER, "channel": "D1", "tab": "home"}
    bot.running.slack.event(event_callback(opened))
    bot.settle()
    (published,) = bot.api.calls_to("views.publish")
    texts = home_texts(published.body["view"])
    for desk in ("default", "energy", "coast"):
        assert any(text.startswith(f"*{desk}* desk") for text in texts)
    assert not any(text.startswith("Other desks") for text in texts)


@pytest.fixture
def guarded(desk_settings):
    """The settings as shipped: fetching refuses internal addresses."""
    return desk_settings.model_copy(update={"fetch_allow_private": False})


def test_adding_an_internal_address_is_refused_with_a_clear_message(
    start_bot, guarded, news, caplog
):
    bot = start_bot(guarded)
    loopback = news.url("/feed.xml")
    bot.command(f"add {loopback}", channel=COAST, user=ADMIN)
    bot.command("add http://169.254.169.254/latest/meta-data/", channel=COAST, user=ADMIN)
    hint = "refused (FACTDESK_FETCH_ALLOW_PRIVATE=true allows it)."
    assert bot.private_replies() == [
        f"I won't fetch {loopback}: 127.0.0.1 is a loopback address: {hint}",
        "I won't fetch http://169.254.169.254/latest/meta-data/: 169.254.169.254 is a "
        f"link-local (cloud metadata) address: {hint}",
    ]
    assert news.requests == []
    assert bot.api.calls_to("chat.postMessage") == []  # nothing announced
    refusals = [r.getMessage() for r in caplog.records if "Refused source" in r.getMessage()]
    assert len(refusals) == 2 and all(f"from {ADMIN}" in refusal for refusal in refusals)


PUBLIC = "93.184.215.14"  # stands in for a news site on the internet


def test_a_public_address_redirecting_to_loopback_is_refused(start_bot, guarded, news, monkeypatch):
    import socket

    import httpcore

    real_lookup, real_connect = socket.getaddrinfo, httpcore.SyncBackend.connect_tcp

    def lookup(host, port, *args, **kwargs):
        if host == "news.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port))]
        return real_lookup(host, port, *args, **kwargs)

    def connect(self, host, port, *args, **kwargs):  # the packets reach the loopback site
        return real_connect(self, "127.0.0.1" if host == PUBLIC else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect)
    news.routes["/moved"] = redirect(news.url("/news/harbour-ferry"))
    bot = start_bot(guarded)
    url = f"http://news.example:{news.base.rsplit(':', 1)[1]}/moved"
    bot.command(f"add {url}", channel=COAST, user=ADMIN)
    progress = bot.thread(f"is adding {url}")
    assert progress[-1] == (
        f"Could not add {url}: Cannot fetch {url}: redirected to 127.0.0.1, a loopback "
        "address: refused (FACTDESK_FETCH_ALLOW_PRIVATE=true allows it)"
    )
    assert news.hits("/moved") == 1 and news.hits("/news/harbour-ferry") == 0
    assert bot.manager.memory.added_sources("coast") == []


def test_a_restart_keeps_the_channel_mapping_and_the_added_sources(
    start_bot, desk_settings, news, shared_memory
):
    feed = news.url("/feed.xml")
    first = start_bot(desk_settings, shared_memory())
    first.command(f"add {feed}", channel=COAST, user=ADMIN)
    first.running.server.stop()
    first.running.server.join()

    second = start_bot(desk_settings, shared_memory())
    second.command("sources", channel=COAST, user=REPORTER)
    (listing,) = second.private_replies()[-1:]
    assert f"• {feed}: 2 articles, added by <@{ADMIN}>" in listing
    assert "12 May" in second.ask(FERRY_QUESTION, channel=COAST)["text"]
    assert "812,000" in second.ask(PDVSA_QUESTION, channel=ENERGY)["text"]
    assert second.ask(FERRY_QUESTION, channel=ENERGY)["text"].startswith(NOT_FOUND)
    second.command(f"remove {feed}", channel=COAST, user=ADMIN)
    assert second.private_replies()[-1] == f"Removed {feed} from the coast desk (2 articles)."


def test_a_refresh_on_two_replicas_fetches_and_indexes_once(
    desk_settings, embedder, news, shared_memory
):
    """Two bot processes sharing the database and the index wake for the same slot: one
    refreshes each desk, the other finds it claimed; the next slot is refreshed again."""
    import threading

    feed = news.url("/feed.xml")
    desk_settings.desks_file.write_text(f'[desks.coast]\nsources = ["{feed}"]\n')

    def replica() -> Refresher:
        pipelines = DeskPipelines(desk_settings, load_desks(desk_settings), embedder, None, None)
        memory = shared_memory() or BotDatabase(database_path(desk_settings))
        manager = DeskManager(pipelines, memory, frozenset())
        return Refresher(manager, minutes=60)

    replicas = [replica(), replica()]
    refreshed: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda r=r: refreshed.append(r.run_slot(1000))) for r in replicas
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(refreshed) == [[], ["coast"]]
    assert news.hits("/feed.xml") == 1
    assert news.hits("/news/bridge-repairs") == 1
    assert replicas[1].run_slot(1001) == ["coast"]
    assert news.hits("/feed.xml") == 2


# -- hostile input ------------------------------------------------------------------------------


def test_a_long_question_is_answered_with_a_note_that_it_was_cut(start_bot, desk_settings):
    """1,350 characters once made the reader's tokenizer panic: no reply at all."""
    bot = start_bot(desk_settings)
    question = f"{ADVISERS_QUESTION} " + "I read about it last week and want the figure. " * 30
    reply = bounded(60, bot.ask, question[:1_350], channel=ELSEWHERE)
    assert "The question is longer than the reader reads" in str(reply["blocks"])
    assert "just a few dozen" in reply["text"]


def test_a_malformed_url_is_refused_and_adding_goes_on(start_bot, desk_settings, news):
    bot = start_bot(desk_settings)
    bounded(30, bot.command, "add http://[::1/", channel=COAST, user=ADMIN)
    bounded(30, bot.command, "add http://127.0.0.1:99999/feed.xml", channel=COAST, user=ADMIN)
    assert bot.private_replies() == [
        "http://[::1/ is not a valid web address (Invalid IPv6 URL).",
        "http://127.0.0.1:99999/feed.xml is not a valid web address (Port out of range 0-65535).",
    ]
    feed = news.url("/feed.xml")
    bounded(60, bot.command, f"add {feed}", channel=COAST, user=ADMIN)
    assert bot.thread(f"is adding {feed}")[-1].startswith("Done: 2 added")


def hostile_feed(news) -> str:
    """A feed of one good article among links that cannot be used: malformed addresses, a
    redirect to a malformed one, headers sent a byte at a time, and more items than allowed."""
    port = news.base.rsplit(":", 1)[1]
    news.routes["/odd-redirect"] = redirect(f"http:127.0.0.1:{port}/news/harbour-ferry")
    news.routes["/drip"] = fixed(Response(b"<html></html>", head_trickle=0.2))
    date = "Thu, 18 Apr 2024 05:00:00 GMT"
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    links = ["http://0177.0.0.1:1/", "/odd-redirect", "/drip", "http://[::1/"]
    items = [(HARBOUR_TITLE, "/news/harbour-ferry", date)] + [(u, u, date) for u in links]
    items.append(("Too old to be read", "/news/bridge-repairs", old))
    news.routes["/hostile.xml"] = fixed(Response(rss(news.base, items), content_type="text/xml"))
    return news.url("/hostile.xml")


def test_a_hostile_feed_is_added_in_part_then_removed(start_bot, desk_settings, news):
    settings = desk_settings.model_copy(update={"fetch_timeout": 1.0, "feed_max_items": 5})
    bot = start_bot(settings)
    feed = hostile_feed(news)
    bounded(60, bot.command, f"add {feed}", channel=COAST, user=ADMIN)
    progress = bot.thread(f"is adding {feed}")
    assert progress[1] == (
        f"The feed {feed} lists 6 items: only the newest 5 are read (FACTDESK_FEED_MAX_ITEMS)."
    )
    assert progress[-1].startswith("Done: 1 added, 0 updated, 0 unchanged, 4 skipped.")
    assert news.hits("/news/bridge-repairs") == 0  # the oldest item, past the cap
    assert "12 May" in bot.ask(FERRY_QUESTION, channel=COAST)["text"]
    bounded(30, bot.command, f"remove {feed}", channel=COAST, user=ADMIN)
    assert bot.private_replies() == [f"Removed {feed} from the coast desk (1 article)."]
    assert bot.ask(FERRY_QUESTION, channel=COAST)["text"] == NOT_FOUND


def test_a_refresh_goes_on_past_bad_sources_and_a_pipe_in_a_folder(
    desk_settings, embedder, news, caplog
):
    """The energy desk's folder holds a named pipe and its sources a malformed URL; the coast
    desk's feed is refreshed in the same slot all the same, and the worker is free after."""
    import os

    energy = desk_settings.desks_file.parent / "articles" / "energy"
    os.mkfifo(energy / "wire.txt")
    feed = news.url("/feed.xml")
    desk_settings.desks_file.write_text(
        f'[desks.energy]\nsources = ["articles/energy", "http://[::1/"]\n\n'
        f'[desks.coast]\nsources = ["{hostile_feed(news)}", "{feed}"]\n'
    )
    settings = desk_settings.model_copy(update={"fetch_timeout": 1.0})
    pipelines = DeskPipelines(settings, load_desks(settings), embedder, None, None)
    manager = DeskManager(pipelines, BotDatabase(database_path(settings)), frozenset())
    assert bounded(60, Refresher(manager, minutes=60).run_slot, 1000) == ["energy", "coast"]
    assert [r.title for r in pipelines.status("energy").documents] == [
        "Venezuela's PDVSA Ships More Crude to China as Russian Debt Talks Stall"
    ]
    assert len(pipelines.status("coast").documents) == 2  # the harbour and the bridge
    assert news.hits("/feed.xml") == 1
    assert any("Cannot fetch http://[::1/: not a valid web address" in m for m in caplog.messages)
    bounded(10, manager.settle)
