"""The App Home tab: the desks of the channels you are in, their sources and how fresh they are,
the other desks, and how answers were received (👍/👎 by mode), published with `views.publish`
whenever someone opens the tab."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from factdesk.desk_manager import DeskManager, DeskOverview
from factdesk.desks import DEFAULT
from factdesk.slack.blocks import MAX_TEXT
from factdesk.slack.database import FeedbackSummary
from factdesk.slack.desks import describe_added, when
from factdesk.slack.markup import escape
from factdesk.slack.replies import Replier

logger = logging.getLogger("factdesk.slack")

MAX_HOME_BLOCKS = 100  # Slack's limit for a Home tab view
LISTED_SOURCES = 10
ADMIN_NOTE = (
    "You can add sources: `/factdesk add URL` in a desk's channel, `/factdesk remove SOURCE` "
    "to take one off."
)
VIEWER_NOTE = "`/factdesk sources` in a channel shows its desk; admins add and remove sources."


def handle_app_home_opened(
    event: dict, client: WebClient, replier: Replier, desks: DeskManager | None
) -> None:
    """Publish the Home tab for the person who opened it (the Messages tab needs nothing)."""
    if event.get("tab", "home") != "home":
        return
    user = event["user"]
    shown: list[tuple[DeskOverview, list[str]]] = []
    others: list[DeskOverview] = []
    if desks is not None:
        mine = user_desks(client, user, desks)
        for name in desks.names:
            overview = desks.overview(name)
            if mine is None or name in mine:
                shown.append((overview, desks.declared(overview)))
            else:
                others.append(overview)
    admin = desks is not None and desks.is_admin(user)
    view = home_view(shown, replier.database.summarize(), admin, others)
    client.views_publish(user_id=user, view=view)


def user_desks(client: WebClient, user: str, desks: DeskManager) -> set[str] | None:
    """The desks of the channels `user` is in, and the default one (direct messages); None,
    for every desk, when Slack does not say (an app installed without channels:read)."""
    channels: set[str] = set()
    try:
        pages = client.users_conversations(
            user=user, types="public_channel,private_channel", exclude_archived=True, limit=200
        )
        for page in pages:
            channels.update(channel["id"] for channel in page.get("channels", []))
    except SlackApiError as exc:
        logger.info("Cannot list %s's channels (%s): the Home tab shows every desk", user, exc)
        return None
    return {DEFAULT} | {desks.desk_of(channel) for channel in channels}


def home_view(
    desks: list[tuple[DeskOverview, list[str]]],
    feedback: FeedbackSummary,
    admin: bool,
    others: Sequence[DeskOverview] = (),
) -> dict:
    """The Home tab: the user's desks (with their sources as the desks file gives them), the
    other desks in a line each, then the feedback."""
    blocks: list[dict] = [_header("factdesk"), _context(ADMIN_NOTE if admin else VIEWER_NOTE)]
    for desk, declared in desks:
        blocks += [{"type": "divider"}, _section(_desk_text(desk, declared))]
    if others:
        lines = [f"• *{escape(desk.name)}* ({_channels(desk)})" for desk in others]
        blocks += [{"type": "divider"}, _section("Other desks:\n" + _within(lines))]
    blocks += [{"type": "divider"}, _header("Answer feedback"), _section(_feedback(feedback))]
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def _channels(desk: DeskOverview) -> str:
    return ", ".join(f"<#{channel}>" for channel in desk.channels) or "channels without a desk"


def _desk_text(desk: DeskOverview, declared: list[str]) -> str:
    count = len(desk.documents)
    lines = [
        f"*{escape(desk.name)}* desk ({_channels(desk)}): {count} "
        f"article{'' if count == 1 else 's'}, last refreshed {when(desk.refreshed)}"
    ]
    sources = [f"• {escape(source)} (desks file)" for source in declared]
    sources += [f"• {describe_added(added)}" for added in desk.added]
    lines += sources[:LISTED_SOURCES]
    if len(sources) > LISTED_SOURCES:
        lines.append(f"…and {len(sources) - LISTED_SOURCES} more.")
    if not sources:
        lines.append("No sources listed: its articles come from `factdesk index`.")
    return _within(lines)


def _within(lines: list[str]) -> str:
    """Whole lines, as many as fit in a text object (cutting one could split a mention)."""
    kept: list[str] = []
    for line in lines:
        if sum(len(k) + 1 for k in kept) + len(line) > MAX_TEXT - 2:
            kept.append("…")
            break
        kept.append(line)
    return "\n".join(kept)


def _feedback(summary: FeedbackSummary) -> str:
    if not summary.by_mode:
        return "No answers yet."
    lines = [
        f"• {mode.mode}: {mode.answers} answer{'' if mode.answers == 1 else 's'}, "
        f"👍 {mode.up} · 👎 {mode.down}"
        for mode in summary.by_mode
    ]
    return "\n".join(lines)


def _header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
