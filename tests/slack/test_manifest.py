"""bot/manifest.yml asks Slack for exactly what the app handles: compared with the listeners
`create_app` registers, recorded as it registers them."""

from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from slack_bolt import App

from factdesk.slack import create_app

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[2] / "bot/manifest.yml").read_text())
KINDS = ("event", "message", "command", "action", "shortcut", "view", "options")
# Slack's documented scope for each event subscription (api.slack.com/events).
EVENT_SCOPES: dict[str, str | None] = {
    "app_mention": "app_mentions:read",
    "app_home_opened": None,
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
}
# What the handlers do with the Web API: post and update answers, post to public channels the
# bot has not joined ("Post to channel"), and list a user's channels (users.conversations, for
# the Home tab's desks).
METHOD_SCOPES = {"chat:write", "chat:write.public", "channels:read", "groups:read"}


@pytest.fixture
def registered(monkeypatch, slack_settings, fake_answerer) -> dict[str, set[str]]:
    """What `create_app` registers, by kind ("event", "command", "action" ...)."""
    listeners: dict[str, set[str]] = defaultdict(set)
    for kind in KINDS:
        original = getattr(App, kind)

        def record(self, constraints, *args, _kind=kind, _original=original, **kwargs):
            listeners[_kind].add(constraints)
            return _original(self, constraints, *args, **kwargs)

        monkeypatch.setattr(App, kind, record)
    create_app(slack_settings, fake_answerer)
    return listeners


def subscriptions() -> set[str]:
    return set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])


def test_registered_listeners_are_of_the_kinds_the_manifest_covers(registered):
    assert set(registered) == {"event", "command", "action"}


def test_events_are_the_ones_the_handlers_answer(registered):
    """Every `message.*` subscription: the message handler answers direct messages and
    follow-ups in threads of every kind of conversation."""
    assert {event.split(".")[0] for event in subscriptions()} == registered["event"]
    if "message" in registered["event"]:
        assert {e for e in subscriptions() if e.startswith("message.")} == {
            "message.channels",
            "message.groups",
            "message.im",
            "message.mpim",
        }


def test_slash_commands_are_the_registered_ones(registered):
    commands = {command["command"] for command in MANIFEST["features"]["slash_commands"]}
    assert commands == registered["command"]


def test_interactivity_is_on_exactly_when_buttons_are_handled(registered):
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is bool(registered["action"])


def test_scopes_are_exactly_the_ones_used(registered):
    needed = {EVENT_SCOPES[event] for event in subscriptions()} - {None} | METHOD_SCOPES
    if registered["command"]:
        needed.add("commands")
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == needed


def test_the_home_tab_is_on_exactly_when_its_event_is_handled(registered):
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is (
        "app_home_opened" in registered["event"]
    )


def test_the_slash_command_fits_slacks_limits():
    """Slack refuses a manifest whose description or usage hint is over 100 characters."""
    (command,) = MANIFEST["features"]["slash_commands"]
    assert len(command["description"]) <= 100 and len(command["usage_hint"]) <= 100


def test_socket_mode_and_the_messages_tab():
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert MANIFEST["features"]["app_home"]["messages_tab_enabled"] is (
        "message.im" in subscriptions()
    )
