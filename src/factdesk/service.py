"""The one place that loads what answering needs and wires it together: the model, the reader,
the store and retriever, the LLM, into a `Pipeline` per index (answer/pipeline.py).

Front ends (the CLI, the Slack app, the HTTP API, evaluations) ask this module for a pipeline (or
every desk's) and never load a model, open the store or index articles themselves.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from factdesk.answer.pipeline import Pipeline
from factdesk.config import Settings
from factdesk.desks import DEFAULT as DEFAULT_DESK
from factdesk.desks import Desks, settings_for
from factdesk.errors import ConfigError
from factdesk.ingest.documents import Article
from factdesk.ingest.indexer import Indexer
from factdesk.search.retrieval import Retriever
from factdesk.search.store import DocumentRecord, Store

if TYPE_CHECKING:
    from factdesk.answer.llm import LLM
    from factdesk.answer.reader import Reader
    from factdesk.search.embeddings import Embedder

# What `reader` may name, as FACTDESK_READER does: no reader (the baseline of evaluations) or the
# trained one shipped in the package.
NO_READER = "none"
TRAINED_READER = "trained"


def load_pipeline(
    settings: Settings,
    notify: Callable[[str], None] | None = None,
    embedder: Embedder | None = None,
    reader: Reader | str | None = None,
) -> Pipeline:
    """Load the model, the reader and, when FACTDESK_LLM_URL is set, the LLM, and open the index
    once; an empty index is built from seeds/ (see `open_pipeline`)."""
    llm = load_llm(settings)  # a bad LLM setting fails before the model loads
    return open_pipeline(settings, notify, embedder, reader, llm)


def open_pipeline(
    settings: Settings,
    notify: Callable[[str], None] | None = None,
    embedder: Embedder | None = None,
    reader: Reader | str | None = None,
    llm: LLM | None = None,
) -> Pipeline:
    """The pipeline over `settings`' index, loading the model and reader unless given; an
    empty index is built from seeds/ first.

    `notify` receives progress messages meant for a person (the CLI prints them on stderr).
    Pass an already loaded `embedder` or `reader` to share them between several pipelines.
    """
    from factdesk.search.embeddings import Embedder

    embedder = embedder or Embedder.from_settings(settings)
    indexer = Indexer(settings, embedder)
    store = Store(settings, indexer.fingerprint)
    index_seeds_if_empty(indexer, store, settings, notify)
    store.check_compatible()
    retriever = Retriever(store, settings)
    return Pipeline(settings, embedder, retriever, load_reader(settings, reader), llm)


def load_indexer(settings: Settings) -> Indexer:
    """The indexer with its model loaded (for `factdesk index`)."""
    from factdesk.search.embeddings import Embedder

    return Indexer(settings, Embedder.from_settings(settings))


@dataclass(frozen=True)
class IndexStatus:
    """What `factdesk status` shows: the store, whether it exists, and its documents."""

    settings: Settings
    store: Store
    exists: bool
    documents: list[DocumentRecord]


def index_status(settings: Settings) -> IndexStatus:
    """The index as it stands, opened without loading the model."""
    from factdesk.ingest.indexer import fingerprint

    store = Store(settings, fingerprint(settings))
    exists = store.exists()
    return IndexStatus(settings, store, exists, store.documents() if exists else [])


def index_seeds_if_empty(
    indexer: Indexer, store: Store, settings: Settings, notify: Callable[[str], None] | None
) -> None:
    """A first run answers at once: an empty index is built from seeds/ (the one place that
    decides this; front ends never index)."""
    if settings.desk != DEFAULT_DESK or (store.exists() and store.count() > 0):
        return  # another desk has its own sources: it is never filled with the seed article
    if notify:
        notify(f"The index is empty; indexing {settings.seeds_dir}/ first.")
    report = indexer.index_paths([Path(settings.seeds_dir)])
    if notify:
        notify(report.summary())


class DeskPipelines:
    """Every desk's pipeline, sharing one model, reader and LLM (what the Slack bot and the
    HTTP API answer with), and what indexes into a desk. Each desk's index is opened on first
    use and kept."""

    def __init__(
        self,
        settings: Settings,
        desks: Desks,
        embedder: Embedder,
        reader: Reader | None,
        llm: LLM | None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.desks = desks
        self._embedder = embedder
        self._reader = reader
        self._llm = llm
        self._notify = notify
        self._pipelines: dict[str, Pipeline] = {}
        self._lock = threading.Lock()

    def pipeline(self, desk: str) -> Pipeline:
        with self._lock:
            if desk not in self._pipelines:
                # The reader is already loaded (None: none), never to be loaded again per desk.
                reader = NO_READER if self._reader is None else self._reader
                self._pipelines[desk] = open_pipeline(
                    settings_for(self.settings, desk),
                    self._notify,
                    self._embedder,
                    reader,
                    self._llm,
                )
            return self._pipelines[desk]

    def for_channel(self, channel: str) -> Pipeline:
        return self.pipeline(self.desks.for_channel(channel).name)

    def indexer(self, desk: str) -> Indexer:
        return Indexer(settings_for(self.settings, desk), self._embedder)

    def status(self, desk: str) -> IndexStatus:
        return index_status(settings_for(self.settings, desk))

    def check_store(self) -> None:
        self.pipeline(DEFAULT_DESK).check_store()


def load_desk_pipelines(
    settings: Settings, desks: Desks, notify: Callable[[str], None] | None = None
) -> DeskPipelines:
    """Load the model, reader and LLM once and open every desk's index (the default desk is
    built from seeds/ when empty, as `open_pipeline` does)."""
    from factdesk.search.embeddings import Embedder

    llm = load_llm(settings)
    embedder = Embedder.from_settings(settings)
    pipelines = DeskPipelines(settings, desks, embedder, load_reader(settings), llm, notify)
    for name in desks.names:
        pipelines.pipeline(name)
    return pipelines


def load_llm(settings: Settings) -> LLM | None:
    """The LLM FACTDESK_LLM_URL names, or None."""
    if not settings.uses_llm:
        return None
    if not settings.llm_model:
        raise ConfigError("FACTDESK_LLM_URL is set but FACTDESK_LLM_MODEL is not: name the model.")
    from factdesk.answer.llm import LLM

    return LLM(settings)


def load_reader(settings: Settings, reader: Reader | str | None = None) -> Reader | None:
    """A loaded reader as given; else what `reader` or, when None, FACTDESK_READER names."""
    choice = settings.reader if reader is None else reader
    if not isinstance(choice, str):
        return choice
    if choice == NO_READER:
        return None
    if choice == TRAINED_READER:
        from factdesk.answer.reader import Reader

        return Reader(threads=settings.threads)
    raise ValueError(f"reader must be a Reader, None, {NO_READER!r} or {TRAINED_READER!r}")


@contextmanager
def scratch_pipeline(
    settings: Settings,
    articles: Sequence[Article],
    notify: Callable[[str], None] | None = None,
    embedder: Embedder | None = None,
    reader: Reader | str | None = None,
    **overrides: object,
) -> Iterator[Pipeline]:
    """A pipeline (without an LLM) over a throw-away embedded index of `articles`, for
    evaluations, removed on exit; the user's own index is never touched. `overrides` change
    settings for this run."""
    from factdesk.search.embeddings import Embedder

    embedder = embedder or Embedder.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="factdesk-eval-") as folder:
        scratch = settings.model_copy(
            update={"index_dir": Path(folder), "chroma_host": None, **overrides}
        )
        report = Indexer(scratch, embedder).index_articles(articles)
        if notify:
            notify(report.summary())
        yield open_pipeline(scratch, embedder=embedder, reader=reader)
