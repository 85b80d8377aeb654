"""A channel's desk from Slack: `/factdesk sources`, `/factdesk add URL`, `/factdesk remove
SOURCE`, and every desk's sources fetched again on a schedule.

Anyone may list the sources; only FACTDESK_SLACK_ADMINS may add or remove them. An added URL or
feed is fetched (public addresses only, unless FACTDESK_FETCH_ALLOW_PRIVATE) and indexed in the
background, with progress posted in a thread under an announcement; the desk answers from it as
soon as it is done. Index work runs on one worker thread, so additions, removals and refreshes
in one process never race for the index. Every addition, refusal and removal is logged with who
asked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from factdesk.config import Settings
from factdesk.errors import FactdeskError, FetchError
from factdesk.ingest.addresses import public_addresses
from factdesk.ingest.sources import gather, is_url
from factdesk.search.store import DocumentRecord
from factdesk.service import DeskServices
from factdesk.slack.database import AddedSource, Memory
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

Post = Callable[[str], None]


class SourceRefused(FactdeskError):
    """A source that cannot be added: not a web address, or an address the bot must not reach."""


@dataclass(frozen=True)
class DeskOverview:
    """What a desk holds, for `/factdesk sources` and the Home tab."""

    name: str
    channels: tuple[str, ...]
    documents: list[DocumentRecord]
    refreshed: datetime | None
    declared: tuple[str, ...]
    added: list[AddedSource]

    @property
    def passages(self) -> int:
        return sum(record.chunks for record in self.documents)


@dataclass
class DeskManager:
    """Lists, adds, removes and refreshes desks' sources; one per bot process."""

    services: DeskServices
    memory: Memory
    admins: frozenset[str]
    _work: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="factdesk-sources")
    )

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def desk_of(self, channel: str) -> str:
        return self.services.desks.for_channel(channel).name

    def is_admin(self, user: str) -> bool:
        return user in self.admins

    # -- listing ---------------------------------------------------------------------------

    def overview(self, desk: str) -> DeskOverview:
        status = self.services.status(desk)
        declared = self.services.desks.get(desk)
        return DeskOverview(
            name=desk,
            channels=declared.channels,
            documents=status.documents,
            refreshed=status.store.refreshed() if status.exists else None,
            declared=declared.sources,
            added=self.memory.added_sources(desk),
        )

    def describe(self, channel: str, titles: int = LISTED_TITLES) -> str:
        """This channel's desk in a few lines: its sources, what it holds, its last refresh."""
        desk = self.overview(self.desk_of(channel))
        count, passages = len(desk.documents), desk.passages
        lines = [
            f"*{escape(desk.name)}* desk: {count} article{_s(count)}, {passages} "
            f"passage{_s(passages)}; last refreshed {when(desk.refreshed)}."
        ]
        if desk.declared or desk.added:
            lines.append("Sources:")
            lines += [f"• {escape(shown)} (desks file)" for shown in self.declared(desk)]
            lines += [f"• {describe_added(added)}" for added in desk.added]
        if desk.documents:
            lines.append("Articles:")
            lines += [f"• {escape(r.title)} ({r.chunks})" for r in desk.documents[:titles]]
            if count > titles:
                lines.append(f"…and {count - titles} more.")
        return "\n".join(lines)

    def declared(self, desk: DeskOverview) -> list[str]:
        """The desk's sources in the desks file, paths as written there (relative to the file)
        rather than where they are on the server."""
        return self._as_written(desk.declared)

    def _as_written(self, sources: tuple[str, ...]) -> list[str]:
        base = self.settings.desks_file.resolve().parent
        return [
            str(Path(source).relative_to(base))
            if not is_url(source) and Path(source).is_relative_to(base)
            else source
            for source in sources
        ]

    # -- adding and removing ---------------------------------------------------------------

    def check(self, url: str) -> None:
        """SourceRefused for what must not be fetched, before anything is announced; redirects
        are checked again on every hop while fetching."""
        if not is_url(url):
            raise SourceRefused(ADD_USAGE)
        try:
            parts = urlsplit(url)
            port, host = parts.port, parts.hostname  # a malformed port raises only when read
        except ValueError as exc:
            raise SourceRefused(f"{url} is not a valid web address ({exc}).") from None
        if not host:
            raise SourceRefused(f"{url} is not a valid web address (no host).")
        if self.settings.fetch_allow_private:
            return
        try:
            public_addresses(host, port or (443 if parts.scheme.lower() == "https" else 80))
        except FetchError as exc:
            raise SourceRefused(f"I won't fetch {url}: {exc}.") from None

    def add(self, url: str, *, desk: str, user: str, post: Post) -> Future[AddedSource | None]:
        """Fetch and index `url` into `desk` in the background; `post` reports progress."""
        logger.info("Adding source %s to desk %s, asked by %s", url, desk, user)
        return self._work.submit(self._add, url, desk, user, post)

    def _add(self, url: str, desk: str, user: str, post: Post) -> AddedSource | None:
        try:
            post(f"Fetching {url}…")
            scan = gather([url], self.settings)
            if not scan.articles:
                reasons = "; ".join(item.reason for item in scan.skipped[:3]) or "no article"
                post(f"Nothing to index at {url}: {reasons}.")
                return None
            for note in scan.notes:
                post(note)
            count = len(scan.articles)
            post(f"Found {count} article{_s(count)}; indexing them into the {desk} desk…")
            report = self.services.indexer(desk).index_scan(scan)
            self.services.service(desk).answerer.retriever.refresh()
        except FactdeskError as exc:
            logger.warning("Could not add %s to desk %s for %s: %s", url, desk, user, exc)
            post(f"Could not add {url}: {exc}")
            return None
        except Exception:
            logger.exception("Adding %s to desk %s failed", url, desk)
            post(f"Adding {url} failed on our side; the log has the details.")
            return None
        now = _now()
        doc_ids = tuple(article.doc_id for article in scan.articles)
        added = AddedSource(desk, url, user, now, doc_ids, refreshed_at=now)
        self.memory.save_source(added)
        logger.info("Source %s added to desk %s by %s (%d articles)", url, desk, user, count)
        skipped = f", {len(report.skipped)} skipped" if report.skipped else ""
        post(
            f"Done: {report.added} added, {report.updated} updated, {report.unchanged} "
            f"unchanged{skipped}. The {desk} desk answers from it now."
        )
        return added

    def remove(self, source: str, *, desk: str, user: str) -> str:
        """Take an added source off `desk`, with the articles it brought; the reply. Runs on
        the worker, after any addition in progress."""
        return self._work.submit(self._remove, source, desk, user).result()

    def _remove(self, source: str, desk: str, user: str) -> str:
        declared = self.services.desks.get(desk).sources
        if source in declared or source in self._as_written(declared):
            return f"{escape(source)} is declared in the desks file: remove it there."
        added = next((a for a in self.memory.added_sources(desk) if a.source == source), None)
        if added is None:
            listed = "see `/factdesk sources`"
            return f"The {escape(desk)} desk has no source {escape(source)}; {listed}."
        # The articles go first: a failure here leaves the source listed, to be removed again.
        removed = self.services.indexer(desk).remove_documents(added.doc_ids)
        self.memory.remove_source(desk, source)
        self.services.service(desk).answerer.retriever.refresh()
        logger.info("Source %s removed from desk %s by %s", source, desk, user)
        return (
            f"Removed {escape(source)} from the {escape(desk)} desk "
            f"({removed} article{_s(removed)})."
        )

    # -- refreshing ------------------------------------------------------------------------

    def has_sources(self, desk: str) -> bool:
        return bool(self.services.desks.get(desk).sources or self.memory.added_sources(desk))

    def refresh(self, desk: str) -> Future[int]:
        """Fetch and index `desk`'s sources again (feeds bring new items); how many articles
        were added or updated."""
        return self._work.submit(self._refresh, desk)

    def _refresh(self, desk: str) -> int:
        indexer = self.services.indexer(desk)
        changed = 0
        declared = self.services.desks.get(desk).sources
        # The folders together (files gone from them are removed), each URL apart: one that
        # cannot be fetched fails alone.
        folders = [source for source in declared if not is_url(source)]
        batches: list[tuple[list[str], AddedSource | None]] = [(folders, None)]
        batches += [([source], None) for source in declared if is_url(source)]
        batches += [([added.source], added) for added in self.memory.added_sources(desk)]
        for sources, added in batches:
            if not sources:
                continue
            try:
                scan = gather(sources, self.settings)
                report = indexer.index_scan(scan)
            except FactdeskError as exc:  # one dead feed must not keep the others stale
                logger.warning("Refreshing %s on desk %s failed: %s", sources, desk, exc)
                continue
            except Exception:  # nor one that fails in a way nobody foresaw
                logger.exception("Refreshing %s on desk %s failed", sources, desk)
                continue
            for note in scan.notes:
                logger.warning("Refreshing desk %s: %s", desk, note)
            changed += report.added + report.updated
            if added is not None:
                doc_ids = dict.fromkeys([*added.doc_ids, *(a.doc_id for a in scan.articles)])
                self.memory.save_source(replace(added, doc_ids=tuple(doc_ids), refreshed_at=_now()))
        self.services.service(desk).answerer.retriever.refresh()
        logger.info("Refreshed desk %s: %d article(s) added or updated", desk, changed)
        return changed

    def fill_empty(self) -> list[str]:
        """Index the declared sources of desks whose index is still empty, in the background
        (once across replicas: the first to claim it does it); the desks queued."""
        queued = []
        for desk in self.services.desks.names:
            declared = self.services.desks.get(desk).sources
            empty = declared and not self.services.status(desk).documents
            if empty and self.memory.first_time(f"fill:{desk}"):
                self.refresh(desk)
                queued.append(desk)
        return queued

    def settle(self) -> None:
        """Wait until the work queued so far is done."""
        self._work.submit(lambda: None).result()

    def shutdown(self) -> None:
        self._work.shutdown(wait=True)


class Refresher:
    """Refreshes every desk with sources each `minutes`, on the boundaries of the clock (every
    replica wakes at the same moments); for each boundary and desk, only the replica that
    claims it in the shared memory (SQLite on one host, Redis across hosts) fetches and indexes.
    A claim outlives the few seconds replicas' clocks disagree by (see database.SEEN_SECONDS)."""

    def __init__(
        self, manager: DeskManager, minutes: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.manager = manager
        self.period = minutes * 60
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="factdesk-refresh", daemon=True)

    def start(self) -> Refresher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while True:
            slot = int(self._clock() // self.period) + 1
            if self._stop.wait(max(0.0, slot * self.period - self._clock())):
                return
            try:
                self.run_slot(slot)
            except Exception:  # the next slot tries again
                logger.exception("Refreshing the desks failed")

    def run_slot(self, slot: int) -> list[str]:
        """Refresh the desks this replica claims for `slot`; the desks it refreshed."""
        refreshed = []
        for desk in self.manager.services.desks.names:
            if not self.manager.has_sources(desk):
                continue
            if self.manager.memory.first_time(f"refresh:{desk}:{slot}"):
                try:
                    self.manager.refresh(desk).result()
                except Exception:  # the other desks of the slot are still refreshed
                    logger.exception("Refreshing desk %s failed", desk)
                    continue
                refreshed.append(desk)
        return refreshed


def start_refresher(settings: Settings, manager: DeskManager) -> Refresher | None:
    """The schedule of FACTDESK_REFRESH_MINUTES (None when it is 0: cron runs
    `factdesk index --desk NAME` instead)."""
    if settings.refresh_minutes <= 0:
        return None
    return Refresher(manager, settings.refresh_minutes).start()


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
    text = desks.describe(command["channel_id"]) if desks else NO_DESKS
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
    text = desks.remove(source, desk=desk, user=command["user_id"])
    respond(text=text, response_type="ephemeral")


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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _s(count: int) -> str:
    return "" if count == 1 else "s"
