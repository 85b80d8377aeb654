"""A channel's desk from Slack: `/factdesk sources`, `/factdesk add URL`, `/factdesk remove URL`.

Anyone may list the sources; only FACTDESK_SLACK_ADMINS may add or remove them. An added URL or
feed is fetched and indexed in the background (one at a time, so two additions never race for
the index), with progress posted in a thread under the announcement; the desk answers from it as
soon as it is done. Every addition and removal is logged with who asked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from factdesk.errors import FactdeskError
from factdesk.ingest.sources import gather, is_url
from factdesk.service import DeskServices
from factdesk.slack.blocks import Message, notice
from factdesk.slack.database import AddedSource, Memory
from factdesk.slack.markup import escape

logger = logging.getLogger("factdesk.slack")

SUBCOMMANDS = ("sources", "add", "remove")
LISTED_TITLES = 15
NOT_ADMIN = (
    "Sorry, only the people in FACTDESK_SLACK_ADMINS can add or remove sources. "
    "Ask one of them, or `/factdesk sources` to see what this channel reads."
)
ADD_USAGE = "Usage: `/factdesk add URL`, the address of an article or an RSS/Atom feed."
REMOVE_USAGE = "Usage: `/factdesk remove URL`, one of the sources `/factdesk sources` lists."

Post = Callable[[str], None]


@dataclass
class DeskManager:
    """Lists, adds and removes a desk's sources; one per app."""

    services: DeskServices
    memory: Memory
    admins: frozenset[str]
    _work: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="factdesk-add")
    )

    def desk_of(self, channel: str) -> str:
        return self.services.desks.for_channel(channel).name

    def is_admin(self, user: str) -> bool:
        return user in self.admins

    # -- listing ---------------------------------------------------------------------------

    def sources(self, channel: str) -> Message:
        """This channel's desk: its sources, what it holds, when it was last refreshed."""
        desk = self.desk_of(channel)
        return notice(self.describe(desk))

    def describe(self, desk: str, titles: int = LISTED_TITLES) -> str:
        status = self.services.status(desk)
        documents = status.documents
        refreshed = status.store.refreshed() if status.exists else None
        passages = sum(d.chunks for d in documents)
        lines = [
            f"*{escape(desk)}* desk: {len(documents)} article{_s(len(documents))}, "
            f"{passages} passage{_s(passages)}; last refreshed {_when(refreshed)}."
        ]
        declared = self.services.desks.get(desk).sources
        added = self.memory.added_sources(desk)
        if declared or added:
            lines.append("Sources:")
            lines += [f"• {escape(source)} (desks file)" for source in declared]
            lines += [
                f"• {escape(a.source)}: {len(a.doc_ids)} article{_s(len(a.doc_ids))}, added by "
                f"<@{a.added_by}> {a.added_at[:10]}"
                for a in added
            ]
        if documents:
            lines.append("Articles:")
            for record in documents[:titles]:
                lines.append(f"• {escape(record.title)} ({record.chunks})")
            if len(documents) > titles:
                lines.append(f"…and {len(documents) - titles} more.")
        return "\n".join(lines)

    # -- adding and removing ---------------------------------------------------------------

    def add(self, url: str, *, desk: str, user: str, post: Post) -> Future[AddedSource | None]:
        """Fetch and index `url` into `desk` in the background; `post` reports progress."""
        logger.info("Source %s added to desk %s by %s", url, desk, user)
        return self._work.submit(self._add, url, desk, user, post)

    def _add(self, url: str, desk: str, user: str, post: Post) -> AddedSource | None:
        try:
            post(f"Fetching {url}…")
            scan = gather([url], self.services.settings)
            if not scan.articles:
                reasons = "; ".join(item.reason for item in scan.skipped[:3]) or "no article in it"
                post(f"Nothing to index at {url}: {reasons}.")
                return None
            count = len(scan.articles)
            post(f"Found {count} article{_s(count)}; indexing into the {desk} desk…")
            report = self.services.indexer(desk).index_scan(scan)
            self.services.service(desk).answerer.retriever.refresh()
        except FactdeskError as exc:
            logger.warning("Could not add %s to desk %s: %s", url, desk, exc)
            post(f"Could not add {url}: {exc}")
            return None
        except Exception:
            logger.exception("Adding %s to desk %s failed", url, desk)
            post(f"Adding {url} failed on our side; the log has the details.")
            return None
        added = AddedSource(
            desk, url, user, _now(), tuple(article.doc_id for article in scan.articles)
        )
        self.memory.save_source(added)
        skipped = f" ({len(report.skipped)} skipped)" if report.skipped else ""
        post(
            f"Done: {report.added} added, {report.updated} updated, {report.unchanged} "
            f"unchanged{skipped}. The {desk} desk answers from it now."
        )
        return added

    def remove(self, source: str, *, desk: str, user: str) -> str:
        """Take an added source off `desk`, with the articles it brought; the reply. Runs on
        the worker, after any addition in progress, which holds the index."""
        return self._work.submit(self._remove, source, desk, user).result()

    def _remove(self, source: str, desk: str, user: str) -> str:
        if source in self.services.desks.get(desk).sources:
            return f"{escape(source)} is declared in the desks file: remove it there."
        added = next((a for a in self.memory.added_sources(desk) if a.source == source), None)
        if added is None:
            return (
                f"The {escape(desk)} desk has no source {escape(source)}; see `/factdesk sources`."
            )
        # The articles go first: a failure here leaves the source listed, to be removed again.
        removed = self.services.indexer(desk).remove_documents(added.doc_ids)
        self.memory.remove_source(desk, source)
        self.services.service(desk).answerer.retriever.refresh()
        logger.info("Source %s removed from desk %s by %s", source, desk, user)
        return (
            f"Removed {escape(source)} from the {escape(desk)} desk "
            f"({removed} article{_s(removed)})."
        )

    def shutdown(self) -> None:
        self._work.shutdown(wait=True)


def handle_subcommand(
    words: list[str],
    *,
    channel: str,
    user: str,
    manager: DeskManager | None,
    client: WebClient,
    reply: Callable[[str], None],
) -> None:
    """`sources`, `add URL` or `remove URL`; `reply` answers only the person who asked."""
    if manager is None:
        reply("This bot runs without desks, so its sources are managed with `factdesk index`.")
        return
    name, rest = words[0].lower(), words[1:]
    if name == "sources":
        reply(manager.sources(channel).text)
        return
    if not manager.is_admin(user):
        reply(NOT_ADMIN)
        return
    desk = manager.desk_of(channel)
    if name == "remove":
        reply(manager.remove(rest[0], desk=desk, user=user) if len(rest) == 1 else REMOVE_USAGE)
        return
    if len(rest) != 1 or not is_url(rest[0]):
        reply(ADD_USAGE)
        return
    url = rest[0]
    manager.add(url, desk=desk, user=user, post=_thread(client, channel, user, url, desk, reply))


def _thread(
    client: WebClient, channel: str, user: str, url: str, desk: str, fallback: Callable[[str], None]
) -> Post:
    """Progress as replies in a thread under an announcement in the channel; privately to the
    admin when the bot cannot post there."""
    text = f"<@{user}> is adding {escape(url)} to the *{escape(desk)}* desk."
    try:
        posted = client.chat_postMessage(channel=channel, text=text)
    except SlackApiError as exc:
        logger.info("Cannot post in %s (%s): progress goes privately", channel, exc)
        return fallback
    thread_ts = posted["ts"]

    def post(message: str) -> None:
        try:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=escape(message))
        except SlackApiError as exc:
            logger.warning("Could not post progress in %s: %s", channel, exc)

    return post


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _s(count: int) -> str:
    return "" if count == 1 else "s"
