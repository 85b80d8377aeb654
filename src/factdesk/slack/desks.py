"""A channel's desk from Slack: `/factdesk sources`, `/factdesk add URL`, `/factdesk remove
SOURCE`, and how desks read in Slack (the desk manager, desk_manager.py, does the work).

Anyone may list the sources; only FACTDESK_SLACK_ADMINS may add or remove them. An added URL or
feed is fetched (public addresses only, unless FACTDESK_FETCH_ALLOW_PRIVATE) and indexed in the
background, with progress posted in a thread under an announcement; the desk answers from it as
soon as it is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from factdesk.desk_manager import AddedSource, DeskManager, Post, Removal, SourceRefused
from factdesk.ingest.sources import is_url
from factdesk.slack.markup import escape, to_plain

logger = logging.getLogger("factdesk.slack")

LISTED_TITLES = 15
NO_DESKS = "This bot runs without desks: its sources are managed with `factdesk index`."
NOT_ADMIN = (
    "Sorry, only the people in FACTDESK_SLACK_ADMINS can add or remove sources. "
    "Ask one of them, or run `/factdesk sources` to see what this channel reads."
)
ADD_USAGE = "Usage: `/factdesk add URL`, the address of an article or an RSS/Atom feed."
REMOVE_USAGE = "Usage: `/factdesk remove SOURCE`, one of the sources `/factdesk sources` lists."


# -- listeners -------------------------------------------------------------------------------


def subcommand(name: str) -> Callable[[dict], bool]:
    """A listener matcher: `/factdesk NAME ...` (any other text is a question)."""

    def matches(command: dict) -> bool:
        words = command.get("text", "").split()
        return bool(words) and words[0].lower() == name

    return matches


def _arguments(command: dict) -> list[str]:
    return to_plain(command.get("text", "")).split()[1:]


def handle_sources(ack: Ack, command: dict, respond: Respond, desks: DeskManager | None) -> None:
    """`/factdesk sources`: this channel's desk, to whoever asks, privately."""
    ack()
    text = describe(desks, command["channel_id"]) if desks else NO_DESKS
    respond(text=text, response_type="ephemeral")


def handle_add(
    ack: Ack, command: dict, client: WebClient, respond: Respond, desks: DeskManager | None
) -> None:
    """`/factdesk add URL` by an admin: checked now, then fetched and indexed in the background
    with progress in a thread."""
    ack()
    url = _admin_argument(command, respond, desks, "add", ADD_USAGE)
    if url is None or desks is None:
        return
    user = command["user_id"]
    try:
        if not is_url(url):
            raise SourceRefused(ADD_USAGE)
        desks.check(url)
    except SourceRefused as exc:
        logger.warning("Refused source %s from %s: %s", url, user, exc)
        respond(text=escape(str(exc)), response_type="ephemeral")
        return
    desk = desks.desk_of(command["channel_id"])
    desks.add(url, desk=desk, user=user, post=progress_thread(client, respond, command, url, desk))


def handle_remove(ack: Ack, command: dict, respond: Respond, desks: DeskManager | None) -> None:
    """`/factdesk remove SOURCE` by an admin: the source and its articles leave the desk."""
    ack()
    source = _admin_argument(command, respond, desks, "remove", REMOVE_USAGE)
    if source is None or desks is None:
        return
    desk = desks.desk_of(command["channel_id"])
    removal = desks.remove(source, desk=desk, user=command["user_id"])
    respond(text=removal_text(removal, source, desk), response_type="ephemeral")


def _admin_argument(
    command: dict, respond: Respond, desks: DeskManager | None, name: str, usage: str
) -> str | None:
    """The one argument of `/factdesk NAME ARGUMENT`; None, with the reason told privately, when
    the bot has no desks, the user is no admin or the argument is missing."""
    user, words = command["user_id"], _arguments(command)
    if desks is None:
        respond(text=NO_DESKS, response_type="ephemeral")
        return None
    if not desks.is_admin(user):
        logger.info("Refused /factdesk %s from %s: not in FACTDESK_SLACK_ADMINS", name, user)
        respond(text=NOT_ADMIN, response_type="ephemeral")
        return None
    if len(words) != 1:
        respond(text=usage, response_type="ephemeral")
        return None
    return words[0]


def progress_thread(
    client: WebClient, respond: Respond, command: dict, url: str, desk: str
) -> Post:
    """Progress as replies in a thread under an announcement in the channel; privately to the
    admin when the bot cannot post there."""
    channel, user = command["channel_id"], command["user_id"]
    text = f"<@{user}> is adding {escape(url)} to the *{escape(desk)}* desk."
    try:
        posted = client.chat_postMessage(channel=channel, text=text)
    except SlackApiError as exc:
        logger.info("Cannot post in %s (%s): progress goes privately", channel, exc)

        def privately(message: str) -> None:
            respond(text=escape(message), response_type="ephemeral")

        return privately
    thread_ts = posted["ts"]

    def post(message: str) -> None:
        try:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=escape(message))
        except SlackApiError as exc:
            logger.warning("Could not post progress in %s: %s", channel, exc)

    return post


def describe(desks: DeskManager, channel: str, titles: int = LISTED_TITLES) -> str:
    """This channel's desk in a few lines: its sources, what it holds, its last refresh."""
    desk = desks.overview(desks.desk_of(channel))
    count, passages = len(desk.documents), desk.passages
    lines = [
        f"*{escape(desk.name)}* desk: {count} article{_s(count)}, {passages} "
        f"passage{_s(passages)}; last refreshed {when(desk.refreshed)}."
    ]
    if desk.declared or desk.added:
        lines.append("Sources:")
        lines += [f"• {escape(shown)} (desks file)" for shown in desks.declared(desk)]
        lines += [f"• {describe_added(added)}" for added in desk.added]
    if desk.documents:
        lines.append("Articles:")
        lines += [f"• {escape(r.title)} ({r.chunks})" for r in desk.documents[:titles]]
        if count > titles:
            lines.append(f"…and {count - titles} more.")
    return "\n".join(lines)


def removal_text(removal: Removal, source: str, desk: str) -> str:
    """What `/factdesk remove SOURCE` did, for the admin who asked."""
    if removal.outcome == "declared":
        return f"{escape(source)} is declared in the desks file: remove it there."
    if removal.outcome == "unknown":
        listed = "see `/factdesk sources`"
        return f"The {escape(desk)} desk has no source {escape(source)}; {listed}."
    count = removal.articles
    return f"Removed {escape(source)} from the {escape(desk)} desk ({count} article{_s(count)})."


def describe_added(added: AddedSource) -> str:
    count = len(added.doc_ids)
    return (
        f"{escape(added.source)}: {count} article{_s(count)}, added by <@{added.added_by}> "
        f"{added.added_at[:10]}, fetched {when(_parse(added.refreshed_at))}"
    )


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def _parse(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _s(count: int) -> str:
    return "" if count == 1 else "s"
