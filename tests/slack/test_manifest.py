"""bot/manifest.yml asks Slack for exactly what the app handles."""

from pathlib import Path

import yaml

from factdesk.slack.commands import COMMAND

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[2] / "bot/manifest.yml").read_text())


def test_events_are_the_ones_the_handlers_answer():
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.channels",
        "message.groups",
        "message.im",
        "message.mpim",
    }


def test_scopes_are_exactly_the_ones_used():
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == [
        "app_mentions:read",
        "channels:history",
        "chat:write",
        "chat:write.public",
        "commands",
        "groups:history",
        "im:history",
        "mpim:history",
    ]


def test_slash_command_interactivity_and_socket_mode():
    (command,) = MANIFEST["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert MANIFEST["features"]["app_home"]["messages_tab_enabled"] is True
