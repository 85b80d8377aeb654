"""The bot over a real `chroma run` server that goes down and comes back while the app runs."""

import pytest
from fakes.slack_payloads import ACK_SECONDS, app_mention, event_callback

from factdesk.service import load_pipeline
from factdesk.slack.blocks import APOLOGY
from tests.conftest import SEEDS

pytestmark = [pytest.mark.slow, pytest.mark.server]


def ask(running, fake_api, channel: str) -> str:
    """Mention the bot in `channel`; the text of its reply, checked to be in the question's
    thread."""
    before = len(fake_api.calls_to("chat.postMessage"))
    event = app_mention("How many advisers remain?", channel=channel)
    reply = running.slack.event(event_callback(event))
    assert reply.status == 200 and reply.seconds < ACK_SECONDS
    posted = fake_api.wait_for("chat.postMessage", count=before + 1, timeout=30)[-1]
    assert (posted.body["channel"], posted.body["thread_ts"]) == (channel, event["ts"])
    return posted.body["text"]


def test_the_bot_apologises_while_chroma_is_down_and_answers_once_it_is_back(
    chroma_server, embedder, slack_settings, serve_app, fake_api
):
    settings = slack_settings.model_copy(
        update={"chroma_host": "127.0.0.1", "chroma_port": chroma_server.port, "seeds_dir": SEEDS}
    )
    running = serve_app(load_pipeline(settings, embedder=embedder), settings)
    assert "few dozen" in ask(running, fake_api, "C1")
    chroma_server.stop()
    assert ask(running, fake_api, "C2") == APOLOGY
    assert ask(running, fake_api, "C3") == APOLOGY  # the app keeps serving while it is down
    chroma_server.start()
    assert "few dozen" in ask(running, fake_api, "C4")
