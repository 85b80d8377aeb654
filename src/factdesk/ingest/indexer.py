"""Incremental indexing of articles into the store, safe against crashes and concurrent runs.

An article's id is its absolute path (or, from the web, its canonical URL) and each passage
records the hash of the article version it came from, so a run skips unchanged articles, replaces
changed ones and removes deleted files. Web articles are never removed for being absent from a
run: a feed only lists its latest items, and a run may index other sources.
New passages are written before old ones are deleted, and a version only counts once all its
passages are present: a run killed half-way leaves the previous index answerable, and the next
run finishes the job. `--rebuild` fills a fresh collection and swaps it in at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from factdesk.config import Settings
from factdesk.errors import IndexBusyError, IndexInterrupted
from factdesk.ingest.chunks import chunk_article
from factdesk.ingest.documents import Article, Scan, Skipped, scan_paths
from factdesk.ingest.sources import gather, is_url, same_article_key
from factdesk.search.embeddings import Embedder, model_name
from factdesk.search.passages import Chunk
from factdesk.search.retrieval import keyword_index
from factdesk.search.store import DocumentRecord, IndexFingerprint, Store

if TYPE_CHECKING:
    import numpy as np

# Articles written so far, of how many.
Progress = Callable[[int, int], None]
# Opens a progress reporter for one phase of a run (None: the phase reports nothing).
Phase = Callable[[], AbstractContextManager[Progress | None]]
# Passages embedded and stored at a time: about a second's work, so progress moves steadily and
# Ctrl-C loses little.
_EMBED_BATCH_CHUNKS = 16


@dataclass
class IndexReport:
    """What an index run did, for the one-line summary and for scripts."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0
    chunks_written: int = 0
    written: int = 0
    seconds: float = 0.0
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # (source, source kept instead): articles left out as the same canonical URL was taken.
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    # The articles the sources held (by `index_sources`), indexed or unchanged.
    doc_ids: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        documents = self.added + self.updated + self.unchanged
        return (
            f"Indexed {documents} document{'s' if documents != 1 else ''}: "
            f"{self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} skipped (unchanged); {self.chunks} chunks in the index "
            f"({self.chunks_written} embedded) in {self.seconds:.1f} s."
        )

    def note_lines(self) -> list[str]:
        """One line per article indexed once although found twice (not a failure)."""
        return [
            f"{source} is the article indexed as {kept} (the same canonical URL): kept once"
            for source, kept in self.duplicates
        ]

    def skipped_lines(self) -> list[str]:
        """Skipped files on one line, as always; each skipped web page on a line of its own,
        since a feed can fail in many ways at once and each needs its own reason."""
        pages = [item for item in self.skipped if item.feed or is_url(item.source)]
        files = [item for item in self.skipped if item not in pages]
        lines = [_skipped_page(item) for item in pages]
        if files:
            listed = "; ".join(f"{item.source} ({item.reason})" for item in files)
            lines.insert(0, f"Skipped {len(files)} file{'s' if len(files) != 1 else ''}: {listed}")
        return lines


def _skipped_page(item: Skipped) -> str:
    feed = f" from the feed {item.feed}" if item.feed else ""
    return f"Skipped {item.source}{feed}: {item.reason}"


def fingerprint(settings: Settings, model: str | None = None) -> IndexFingerprint:
    """The model and chunking an index is built with: `model` is the loaded model's name, when
    there is one, else the name the settings would load."""
    name = model or model_name(settings.model_path, settings.embedding_precision)
    return IndexFingerprint(name, settings.chunk_tokens, settings.chunk_overlap_tokens)


@contextmanager
def index_lock(settings: Settings) -> Iterator[None]:
    """One index run at a time per index; a second one is refused at once with a clear message."""
    from filelock import FileLock, Timeout

    lock_dir = Path(settings.index_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_dir / f".{settings.collection_name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise IndexBusyError(
            "Another `factdesk index` is already running on this index; "
            "try again when it has finished."
        ) from None
    try:
        yield
    finally:
        lock.release()


class Indexer:
    """Brings the store in line with a set of articles, doing as little work as possible."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self.fingerprint = fingerprint(settings, embedder.name)

    def index_paths(
        self, paths: Sequence[Path], rebuild: bool = False, progress: Progress | None = None
    ) -> IndexReport:
        """Index every supported file under `paths` (files gone from them are removed)."""
        scan = scan_paths(
            paths,
            self.settings.max_file_bytes,
            follow_outside_links=self.settings.follow_outside_links,
        )
        return self.index_scan(scan, rebuild, progress)

    def index_scan(
        self, scan: Scan, rebuild: bool = False, progress: Progress | None = None
    ) -> IndexReport:
        """Index what was read from files, folders and the web (see `sources.gather`)."""
        report = self.index_articles(scan.articles, scan.roots, rebuild, progress, scan.kept)
        report.skipped = scan.skipped
        report.notes = scan.notes
        return report

    def index_articles(
        self,
        articles: Sequence[Article],
        roots: Sequence[Path] = (),
        rebuild: bool = False,
        progress: Progress | None = None,
        keep: Sequence[str] = (),
    ) -> IndexReport:
        """Index in-memory articles; documents under `roots` that are not among them are removed,
        except those at or under a path in `keep` (a file or folder unreadable for now)."""
        started = time.perf_counter()
        with index_lock(self.settings):
            self._recover_interrupted_rebuild()
            store = Store(self.settings, self.fingerprint)
            if rebuild:
                target = Store(self.settings, self.fingerprint, _rebuild_name(self.settings))
                target.drop()
            else:
                store.check_compatible()
                target = store
            try:
                report = self._sync(target, _unique(articles), roots, progress, keep)
            except IndexInterrupted as interrupted:
                if rebuild:  # the half-built collection is dropped by the next run
                    raise IndexInterrupted.during_rebuild() from None
                if interrupted.kept:  # later questions see what was written
                    target.bump_generation()
                raise
            if rebuild:
                self._swap_in(target, store)
            elif report.changed:
                target.bump_generation()
            live = Store(self.settings, self.fingerprint)
            live.mark_refreshed()
            report.chunks = live.count()
            keyword_index(live, self.settings)  # saved now, so no question waits for it
        report.seconds = time.perf_counter() - started
        return report

    def remove_documents(self, doc_ids: Sequence[str]) -> int:
        """Delete these articles from the index (a source taken off a desk); how many were
        there."""
        with index_lock(self.settings):
            store = Store(self.settings, self.fingerprint)
            if not store.exists():
                return 0
            present = {record.doc_id for record in store.documents()} & set(doc_ids)
            for doc_id in sorted(present):
                store.delete_document(doc_id)
            if present:
                store.bump_generation()
                store.mark_refreshed()
                keyword_index(store, self.settings)
        return len(present)

    def _sync(
        self,
        store: Store,
        articles: list[Article],
        roots: Sequence[Path],
        progress: Progress | None,
        keep: Sequence[str] = (),
    ) -> IndexReport:
        report = IndexReport()
        existing = {record.doc_id: record for record in store.documents()}
        articles = _one_per_url(articles, existing.values(), report)
        to_write = []
        for article in articles:
            record = existing.get(article.doc_id)
            if record and article.content_hash in record.complete_hashes:
                report.unchanged += 1
                if len(record.all_hashes) > 1:
                    store.delete_other_versions(article.doc_id, article.content_hash)
            else:
                to_write.append(article)
                if record:
                    report.updated += 1
                else:
                    report.added += 1
        try:
            self._write(store, to_write, progress, report)
        except KeyboardInterrupt:
            kept = report.unchanged + report.written
            raise IndexInterrupted.kept_of(kept, len(articles)) from None
        seen = {article.doc_id for article in articles}
        for record in existing.values():
            if record.doc_id not in seen and _is_gone(record, roots, keep):
                store.delete_document(record.doc_id)
                report.removed += 1
        return report

    def _write(
        self, store: Store, articles: list[Article], progress: Progress | None, report: IndexReport
    ) -> None:
        """Chunk, embed and store articles in small batches of whole articles, then drop their
        old versions; `report.written` counts the articles done, for an interrupted run."""
        if progress:
            progress(0, len(articles))
        for batch in _batches(((a, self._chunk(a)) for a in articles), _EMBED_BATCH_CHUNKS):
            chunks, vectors = self._embedded(
                [chunk for _, article_chunks in batch for chunk in article_chunks]
            )
            store.add(chunks, vectors)
            for article, _ in batch:
                store.delete_other_versions(article.doc_id, article.content_hash)
            report.chunks_written += len(chunks)
            report.written += len(batch)
            if progress:
                progress(report.written, len(articles))

    def _embedded(self, chunks: list[Chunk]) -> tuple[list[Chunk], np.ndarray]:
        """Embed every passage, and its sentences within it, now, once, rather than for every
        question: one pass of the model gives both."""
        texts = [chunk.embedding_text for chunk in chunks]
        spans = [_sentence_spans(chunk) for chunk in chunks]
        vectors, sentence_vectors = self.embedder.embed_in_context(texts, spans)
        chunks = [
            replace(chunk, sentence_vectors=own)
            for chunk, own in zip(chunks, sentence_vectors, strict=True)
        ]
        return chunks, vectors

    def _chunk(self, article: Article) -> list[Chunk]:
        return chunk_article(
            article,
            count_tokens=self.embedder.count_tokens,
            token_spans=self.embedder.token_spans,
            max_tokens=self.settings.chunk_tokens,
            overlap_tokens=self.settings.chunk_overlap_tokens,
        )

    def _swap_in(self, rebuilt: Store, current: Store) -> None:
        """Replace the live collection by the rebuilt one; a crash in between is recovered."""
        rebuilt.bump_generation()
        if current.exists():
            current.rename(_old_name(self.settings))
        rebuilt.rename(self.settings.collection_name)
        Store(self.settings, self.fingerprint, _old_name(self.settings)).drop()

    def _recover_interrupted_rebuild(self) -> None:
        """Finish or undo a `--rebuild` that was killed, before touching anything else."""
        main = Store(self.settings, self.fingerprint)
        old = Store(self.settings, self.fingerprint, _old_name(self.settings))
        rebuilding = Store(self.settings, self.fingerprint, _rebuild_name(self.settings))
        if old.exists():
            if main.exists():
                old.drop()
            else:
                old.rename(self.settings.collection_name)
        rebuilding.drop()


def index_sources(
    sources: Sequence[str | Path],
    settings: Settings,
    indexer: Indexer | Callable[[], Indexer],
    *,
    rebuild: bool = False,
    fetching: Phase | None = None,
    reading: Phase | None = None,
    indexing: Phase | None = None,
    found: Callable[[Scan], bool] | None = None,
) -> IndexReport | None:
    """Read `sources` (files, folders, article and feed URLs) and index what they hold: the one
    way a desk's sources are indexed (`factdesk index`, a source added from Slack, a refresh).

    `fetching`, `reading` and `indexing` open progress reporters for their phase (feed items
    fetched, files read, articles written), one at a time. `indexer` may be a loader, called
    once the sources are read (a bad URL fails before the model loads); `found` sees what they
    held first, and stops the run by returning False (the result is then None). Ctrl-C before
    indexing starts is IndexInterrupted: nothing was written.
    """
    try:
        with _phase(fetching) as fetched, _phase(reading) as read:
            scan = gather(sources, settings, fetched, reading=read)
        if found is not None and not found(scan):
            return None
        loaded = indexer if isinstance(indexer, Indexer) else indexer()
    except KeyboardInterrupt:
        raise IndexInterrupted.before_indexing() from None
    with _phase(indexing) as progress:
        report = loaded.index_scan(scan, rebuild=rebuild, progress=progress)
    report.doc_ids = [article.doc_id for article in scan.articles]
    return report


def _phase(opens: Phase | None) -> AbstractContextManager[Progress | None]:
    return opens() if opens is not None else nullcontext()


def _sentence_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """Where the passage's sentences are in the text the model reads (title first)."""
    offset = len(chunk.embedding_text) - len(chunk.text)
    return [(offset + start, offset + end) for start, end in chunk.sentences]


def _rebuild_name(settings: Settings) -> str:
    return f"{settings.collection_name}--rebuild"


def _old_name(settings: Settings) -> str:
    return f"{settings.collection_name}--old"


def _one_per_url(
    articles: list[Article], records: Iterable[DocumentRecord], report: IndexReport
) -> list[Article]:
    """Articles whose canonical URL is taken by another document (already indexed, or earlier
    in this run) are left out: a page saved as a file and fetched from the web is one article,
    and is never cited twice."""
    owners = {key: (r.doc_id, r.source) for r in records if (key := same_article_key(r.url))}
    kept = []
    for article in articles:
        key = same_article_key(article.url)
        owner = owners.setdefault(key, (article.doc_id, article.source)) if key else None
        if owner and owner[0] != article.doc_id:
            report.duplicates.append((article.source, owner[1]))
        else:
            kept.append(article)
    return kept


def _unique(articles: Sequence[Article]) -> list[Article]:
    return list({article.doc_id: article for article in articles}.values())


def _batches(
    chunked: Iterable[tuple[Article, list[Chunk]]], size: int
) -> Iterator[list[tuple[Article, list[Chunk]]]]:
    batch: list[tuple[Article, list[Chunk]]] = []
    count = 0
    for item in chunked:
        batch.append(item)
        count += len(item[1])
        if count >= size:
            yield batch
            batch, count = [], 0
    if batch:
        yield batch


def _is_gone(record: DocumentRecord, roots: Sequence[Path], keep: Sequence[str] = ()) -> bool:
    """A file-backed document goes when its file is gone, or it was not found under a root;
    one whose file (or folder) is there but unreadable now stays, as it was.

    Web articles (and articles given in memory) have no file, so they are never gone.
    """
    path = Path(record.doc_id)
    if is_url(record.doc_id) or not path.is_absolute():
        return False
    if any(path.is_relative_to(place) for place in keep):
        return False
    return not path.is_file() or any(path.is_relative_to(root) for root in roots)


def every(
    seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[int]:
    """Run numbers 1, 2, ... spaced `seconds` apart, start to start, for `index --every`.

    A run that overruns the interval is followed at once by the next, never by a burst of the
    runs it missed. Stops only when interrupted (KeyboardInterrupt, raised in the caller).
    """
    start = clock()
    run = 1
    while True:
        yield run
        run += 1
        start = max(start + seconds, clock())
        sleep(max(0.0, start - clock()))
