"""The App Home tab: the desks, their sources and how fresh they are, and how answers were
received (👍/👎 by mode), published with `views.publish` whenever someone opens the tab."""

from __future__ import annotations

from slack_sdk import WebClient

from factdesk.slack.blocks import MAX_TEXT
from factdesk.slack.database import FeedbackSummary
from factdesk.slack.desks import DeskManager, DeskOverview, describe_added, when
from factdesk.slack.markup import escape
from factdesk.slack.replies import Replier

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
    overviews = [desks.overview(name) for name in desks.services.desks.names] if desks else []
    admin = desks is not None and desks.is_admin(user)
    declared = [desks.declared(desk) for desk in overviews] if desks else []
    view = home_view(
        list(zip(overviews, declared, strict=True)), replier.database.summarize(), admin
    )
    client.views_publish(user_id=user, view=view)


def home_view(
    desks: list[tuple[DeskOverview, list[str]]], feedback: FeedbackSummary, admin: bool
) -> dict:
    """The Home tab: each desk (with its sources as the desks file gives them), then feedback."""
    blocks: list[dict] = [_header("factdesk"), _context(ADMIN_NOTE if admin else VIEWER_NOTE)]
    for desk, declared in desks:
        blocks += [{"type": "divider"}, _section(_desk_text(desk, declared))]
    blocks += [{"type": "divider"}, _header("Answer feedback"), _section(_feedback(feedback))]
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def _desk_text(desk: DeskOverview, declared: list[str]) -> str:
    count = len(desk.documents)
    channels = ", ".join(f"<#{channel}>" for channel in desk.channels) or "channels without a desk"
    lines = [
        f"*{escape(desk.name)}* desk ({channels}): {count} article{'' if count == 1 else 's'}, "
        f"last refreshed {when(desk.refreshed)}"
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
