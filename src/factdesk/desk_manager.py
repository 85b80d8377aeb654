"""Managing desks' sources while factdesk runs: listing what a desk holds, adding a web source
(fetched and indexed in the background), removing one with the articles it brought, and
fetching every desk's sources again (refresher.py does it on a schedule).

The Slack bot's `/factdesk sources`, `add` and `remove` ask this (slack/desks.py). Index work
runs on one worker thread, so additions, removals and refreshes in one process never race for
the index. Every addition, refusal and removal is logged with who asked. Sources added this way
are kept in the bot's memory (SQLite, or Redis across hosts), beside the desks file's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import urlsplit

from factdesk.config import Settings
from factdesk.errors import FactdeskError, FetchError
from factdesk.ingest.addresses import public_addresses
from factdesk.ingest.documents import Scan
from factdesk.ingest.indexer import index_sources
from factdesk.ingest.sources import is_url
from factdesk.search.store import DocumentRecord
from factdesk.service import DeskPipelines

logger = logging.getLogger("factdesk.desks")

# Where an addition's progress goes, a line at a time (plain text).
Post = Callable[[str], None]


@dataclass(frozen=True)
class AddedSource:
    """A source someone added to a desk while factdesk runs, the articles it brought, and when
    it was last fetched (times are ISO 8601, UTC)."""

    desk: str
    source: str
    added_by: str
    added_at: str
    doc_ids: tuple[str, ...] = ()
    refreshed_at: str = ""

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "doc_ids": list(self.doc_ids)})

    @classmethod
    def from_json(cls, text: str | bytes) -> AddedSource:
        data = json.loads(text)
        return cls(**{**data, "doc_ids": tuple(data["doc_ids"])})


class SourceMemory(Protocol):
    """Where added sources are kept, and the claims that make one replica of several do a
    piece of work (`first_time`: True for the first to ask about `key`)."""

    def first_time(self, key: str) -> bool: ...

    def save_source(self, source: AddedSource) -> None: ...

    def remove_source(self, desk: str, source: str) -> AddedSource | None: ...

    def added_sources(self, desk: str) -> list[AddedSource]: ...


class SourceRefused(FactdeskError):
    """A source that cannot be added: not a web address, or an address factdesk must not reach."""


@dataclass(frozen=True)
class DeskOverview:
    """What a desk holds: its channels, articles, last refresh and sources."""

    name: str
    channels: tuple[str, ...]
    documents: list[DocumentRecord]
    refreshed: datetime | None
    declared: tuple[str, ...]
    added: list[AddedSource]

    @property
    def passages(self) -> int:
        return sum(record.chunks for record in self.documents)


@dataclass(frozen=True)
class Removal:
    """What taking a source off a desk did: nothing to a source the desks file declares or to
    one the desk does not have; else it `removed` the source and its `articles`."""

    outcome: Literal["declared", "unknown", "removed"]
    articles: int = 0


@dataclass
class DeskManager:
    """Lists, adds, removes and refreshes desks' sources; one per process."""

    pipelines: DeskPipelines
    memory: SourceMemory
    admins: frozenset[str]
    _work: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="factdesk-sources")
    )

    @property
    def settings(self) -> Settings:
        return self.pipelines.settings

    @property
    def names(self) -> list[str]:
        return self.pipelines.desks.names

    def desk_of(self, channel: str) -> str:
        return self.pipelines.desks.for_channel(channel).name

    def is_admin(self, user: str) -> bool:
        return user in self.admins

    # -- listing ---------------------------------------------------------------------------

    def overview(self, desk: str) -> DeskOverview:
        status = self.pipelines.status(desk)
        declared = self.pipelines.desks.get(desk)
        return DeskOverview(
            name=desk,
            channels=declared.channels,
            documents=status.documents,
            refreshed=status.store.refreshed() if status.exists else None,
            declared=declared.sources,
            added=self.memory.added_sources(desk),
        )

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
            raise SourceRefused(f"{url} is not a web address (http or https).")
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
        def found(scan: Scan) -> bool:
            if not scan.articles:
                reasons = "; ".join(item.reason for item in scan.skipped[:3]) or "no article"
                post(f"Nothing to index at {url}: {reasons}.")
                return False
            for note in scan.notes:
                post(note)
            count = len(scan.articles)
            post(f"Found {count} article{_s(count)}; indexing them into the {desk} desk…")
            return True

        try:
            post(f"Fetching {url}…")
            indexer = lambda: self.pipelines.indexer(desk)  # noqa: E731
            report = index_sources([url], self.settings, indexer, found=found)
            if report is None:
                return None
            self.pipelines.pipeline(desk).refresh()
        except FactdeskError as exc:
            logger.warning("Could not add %s to desk %s for %s: %s", url, desk, user, exc)
            post(f"Could not add {url}: {exc}")
            return None
        except Exception:
            logger.exception("Adding %s to desk %s failed", url, desk)
            post(f"Adding {url} failed on our side; the log has the details.")
            return None
        now = _now()
        added = AddedSource(desk, url, user, now, tuple(report.doc_ids), refreshed_at=now)
        self.memory.save_source(added)
        count = len(report.doc_ids)
        logger.info("Source %s added to desk %s by %s (%d articles)", url, desk, user, count)
        skipped = f", {len(report.skipped)} skipped" if report.skipped else ""
        post(
            f"Done: {report.added} added, {report.updated} updated, {report.unchanged} "
            f"unchanged{skipped}. The {desk} desk answers from it now."
        )
        return added

    def remove(self, source: str, *, desk: str, user: str) -> Removal:
        """Take an added source off `desk`, with the articles it brought. Runs on the worker,
        after any addition in progress."""
        return self._work.submit(self._remove, source, desk, user).result()

    def _remove(self, source: str, desk: str, user: str) -> Removal:
        declared = self.pipelines.desks.get(desk).sources
        if source in declared or source in self._as_written(declared):
            return Removal("declared")
        added = next((a for a in self.memory.added_sources(desk) if a.source == source), None)
        if added is None:
            return Removal("unknown")
        # The articles go first: a failure here leaves the source listed, to be removed again.
        removed = self.pipelines.indexer(desk).remove_documents(added.doc_ids)
        self.memory.remove_source(desk, source)
        self.pipelines.pipeline(desk).refresh()
        logger.info("Source %s removed from desk %s by %s", source, desk, user)
        return Removal("removed", removed)

    # -- refreshing ------------------------------------------------------------------------

    def has_sources(self, desk: str) -> bool:
        return bool(self.pipelines.desks.get(desk).sources or self.memory.added_sources(desk))

    def refresh(self, desk: str) -> Future[int]:
        """Fetch and index `desk`'s sources again (feeds bring new items); how many articles
        were added or updated."""
        return self._work.submit(self._refresh, desk)

    def _refresh(self, desk: str) -> int:
        indexer = self.pipelines.indexer(desk)
        changed = 0
        declared = self.pipelines.desks.get(desk).sources
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
                report = index_sources(sources, self.settings, indexer)
            except FactdeskError as exc:  # one dead feed must not keep the others stale
                logger.warning("Refreshing %s on desk %s failed: %s", sources, desk, exc)
                continue
            except Exception:  # nor one that fails in a way nobody foresaw
                logger.exception("Refreshing %s on desk %s failed", sources, desk)
                continue
            assert report is not None  # nothing stops a refresh before it indexes
            for note in report.notes:
                logger.warning("Refreshing desk %s: %s", desk, note)
            changed += report.added + report.updated
            if added is not None:
                doc_ids = dict.fromkeys([*added.doc_ids, *report.doc_ids])
                self.memory.save_source(replace(added, doc_ids=tuple(doc_ids), refreshed_at=_now()))
        self.pipelines.pipeline(desk).refresh()
        logger.info("Refreshed desk %s: %d article(s) added or updated", desk, changed)
        return changed

    def fill_empty(self) -> list[str]:
        """Index the declared sources of desks whose index is still empty, in the background
        (once across replicas: the first to claim it does it); the desks queued."""
        queued = []
        for desk in self.names:
            declared = self.pipelines.desks.get(desk).sources
            empty = declared and not self.pipelines.status(desk).documents
            if empty and self.memory.first_time(f"fill:{desk}"):
                self.refresh(desk)
                queued.append(desk)
        return queued

    def settle(self) -> None:
        """Wait until the work queued so far is done."""
        self._work.submit(lambda: None).result()

    def shutdown(self) -> None:
        self._work.shutdown(wait=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _s(count: int) -> str:
    return "" if count == 1 else "s"
