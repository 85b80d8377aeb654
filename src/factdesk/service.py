"""The one place that loads what answering needs: model, reader, store, retriever.

Front ends (the CLI, the Slack app, evaluations) ask this module for an `Answerer` and never load
a model, open the store or index articles themselves.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from factdesk.answers import Answerer
from factdesk.config import Settings
from factdesk.documents import Article
from factdesk.indexer import Indexer
from factdesk.retrieval import Retriever
from factdesk.store import Store

if TYPE_CHECKING:
    from factdesk.embeddings import Embedder
    from factdesk.reader import Reader

NO_READER = "none"  # pass as `reader` for the answerer without one (a baseline for evaluations)


def load_answerer(
    settings: Settings,
    notify: Callable[[str], None] | None = None,
    embedder: Embedder | None = None,
    reader: Reader | str | None = None,
) -> Answerer:
    """Load the model and reader and open the index once; an empty index is built from seeds/.

    `notify` receives progress messages meant for a person (the CLI prints them on stderr).
    Pass an already loaded `embedder` or `reader` to share them between several answerers.
    """
    from factdesk.embeddings import Embedder

    embedder = embedder or Embedder.from_settings(settings)
    indexer = Indexer(settings, embedder)
    store = Store(settings, indexer.fingerprint)
    if not store.exists() or store.count() == 0:
        if notify:
            notify(f"The index is empty; indexing {settings.seeds_dir}/ first.")
        report = indexer.index_paths([Path(settings.seeds_dir)])
        if notify:
            notify(report.summary())
    store.check_compatible()
    return Answerer(settings, embedder, Retriever(store, settings), _reader(reader, settings))


def _reader(reader: Reader | str | None, settings: Settings) -> Reader | None:
    if reader == NO_READER:
        return None
    if reader is None:
        from factdesk.reader import Reader

        return Reader(threads=settings.threads)
    return reader


@contextmanager
def scratch_answerer(
    settings: Settings,
    articles: Sequence[Article],
    notify: Callable[[str], None] | None = None,
    embedder: Embedder | None = None,
    reader: Reader | str | None = None,
    **overrides: object,
) -> Iterator[Answerer]:
    """An answerer over a throw-away embedded index of `articles` (for evaluations), removed on
    exit; the user's own index is never touched. `overrides` change settings for this run."""
    from factdesk.embeddings import Embedder

    embedder = embedder or Embedder.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="factdesk-eval-") as folder:
        scratch = settings.model_copy(
            update={"index_dir": Path(folder), "chroma_host": None, **overrides}
        )
        report = Indexer(scratch, embedder).index_articles(articles)
        if notify:
            notify(report.summary())
        yield load_answerer(scratch, embedder=embedder, reader=reader)
