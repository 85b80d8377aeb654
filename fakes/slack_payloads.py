"""The requests Slack sends, built the way Slack builds them, and signed with our own HMAC.

The signature is computed here from Slack's documented recipe rather than with slack_sdk's
`SignatureVerifier`, so the tests do not check the verifier against itself.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

from fakes.slack import BOT_USER_ID, TEAM_ID

_ids = itertools.count(1)


# Slack wants an ack within 3 s; tests allow 10 so that a loaded machine cannot break them, which
# still tells an ack that waited for the answer (or a retry) from one sent at once.
ACK_SECONDS = 10


def next_ts() -> str:
    return f"1699999999.{next(_ids):06d}"


def event_callback(event: dict, event_id: str | None = None) -> dict:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A111",
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):08d}",
        "event_time": int(time.time()),
        "event": event,
    }


def app_mention(text: str, *, channel: str = "C1", ts: str | None = None, **extra: str) -> dict:
    return {
        "type": "app_mention",
        "user": "U1",
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts or next_ts(),
        "channel": channel,
        "event_ts": ts or next_ts(),
        **extra,
    }


def message(
    text: str, *, channel: str = "C1", channel_type: str = "channel", ts: str | None = None, **extra
) -> dict:
    return {
        "type": "message",
        "user": "U1",
        "text": text,
        "ts": ts or next_ts(),
        "channel": channel,
        "channel_type": channel_type,
        **extra,
    }


def slash_command(text: str, response_url: str, *, channel: str = "C1") -> dict:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "channel_id": channel,
        "user_id": "U1",
        "command": "/factdesk",
        "text": text,
        "response_url": response_url,
        "trigger_id": "1.2.3",
        "api_app_id": "A111",
    }


def block_actions(
    action_id: str,
    value: str,
    response_url: str,
    *,
    channel: str = "C1",
    message_ts: str = "1700000000.000001",
    ephemeral: bool = False,
    user: str = "U1",
) -> dict:
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": user},
        "api_app_id": "A111",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "channel": {"id": channel},
        "trigger_id": "1.2.3",
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "factdesk_actions",
                "value": value,
                "action_ts": next_ts(),
            }
        ],
    }


def sign(secret: str, body: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    return "v0=" + digest.hexdigest()


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    seconds: float


class SlackSender:
    """Posts what Slack would post to an app's `/slack/events`, signed with `secret`."""

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret

    def event(self, payload: dict, **headers: str) -> Reply:
        return self.post(json.dumps(payload), "application/json", headers)

    def form(self, fields: dict, **headers: str) -> Reply:
        return self.post(urlencode(fields), "application/x-www-form-urlencoded", headers)

    def action(self, payload: dict, **headers: str) -> Reply:
        return self.form({"payload": json.dumps(payload)}, **headers)

    def post(self, body: str, content_type: str, headers: dict[str, str]) -> Reply:
        timestamp = headers.pop("timestamp", str(int(time.time())))
        signed = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(self.secret, body, timestamp),
        }
        signed.update({name.replace("_", "-"): value for name, value in headers.items()})
        return send(self.url, body.encode(), signed)


def send(url: str, body: bytes, headers: dict[str, str]) -> Reply:
    """POST and return status and body, whatever the status."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, response.read().decode(), time.monotonic() - started)
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read().decode(), time.monotonic() - started)
