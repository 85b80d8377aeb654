"""Incremental indexing against a real embedded Chroma, with a fake model: what is tested here
is the bookkeeping around the vectors, not their quality."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from factdesk.errors import FetchError, IncompatibleIndexError, IndexBusyError
from factdesk.ingest.indexer import Indexer, every, fingerprint, index_lock
from factdesk.ingest.sources import gather
from factdesk.search.store import SCHEMA_VERSION, Store

from .conftest import SEEDS, FakeEmbedder, free_port, make_settings
from .newsserver import NewsServer, Response, news_site, page

pytestmark = pytest.mark.slow

ARTICLE = "Headline number {n}\n\nThe council voted {n} times on the harbour plan. It passed.\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    articles = tmp_path / "articles"
    articles.mkdir()
    for n in range(3):
        (articles / f"a{n}.txt").write_text(ARTICLE.format(n=n), encoding="utf-8")
    return articles


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path / "index")


def store_of(settings) -> Store:
    return Store(settings, fingerprint(settings, FakeEmbedder.name))


def chunk_ids_by_doc(settings) -> Counter:
    store = store_of(settings)
    return Counter(chunk.doc_id for chunk in store.chunks())


def test_incremental_runs_skip_replace_and_remove(settings, fake_embedder, folder):
    indexer = Indexer(settings, fake_embedder)
    first = indexer.index_paths([folder])
    assert (first.added, first.updated, first.removed, first.unchanged) == (3, 0, 0, 0)
    store = store_of(settings)
    before = {c.id for c in store.chunks()}

    second = indexer.index_paths([folder])
    assert (second.added, second.updated, second.removed, second.unchanged) == (0, 0, 0, 3)
    assert second.chunks_written == 0 and {c.id for c in store.chunks()} == before

    (folder / "a1.txt").write_text("Changed headline\n\nA new story about trams.", encoding="utf-8")
    (folder / "a2.txt").unlink()
    third = indexer.index_paths([folder])
    assert (third.added, third.updated, third.removed, third.unchanged) == (0, 1, 1, 1)
    chunks = store.chunks()
    texts = " ".join(c.text for c in chunks)
    assert "trams" in texts and "voted 1 times" not in texts and "voted 2 times" not in texts
    assert len({c.id for c in chunks}) == len(chunks) == third.chunks
    assert set(chunk_ids_by_doc(settings)) == {
        (folder / "a0.txt").resolve().as_posix(),
        (folder / "a1.txt").resolve().as_posix(),
    }


def test_three_runs_never_duplicate_chunks(settings, fake_embedder):
    indexer = Indexer(settings, fake_embedder)
    counts = [indexer.index_paths([SEEDS]).chunks for _ in range(3)]
    assert counts[0] == counts[1] == counts[2]
    store = store_of(settings)
    chunks = store.chunks()
    assert len({(c.doc_id, c.start, c.end) for c in chunks}) == len(chunks) == counts[0]


def test_rebuild_starts_over_and_keeps_answering(settings, fake_embedder, folder):
    indexer = Indexer(settings, fake_embedder)
    indexer.index_paths([folder])
    report = indexer.index_paths([folder], rebuild=True)
    assert report.added == 3 and report.chunks == len(store_of(settings).chunks())
    names = {c.name for c in store_of(settings).client.list_collections()}
    assert names == {settings.collection}


def test_unfinished_version_is_completed_by_the_next_run(settings, fake_embedder, folder):
    """A run killed after writing part of an article's chunks must not count it as indexed."""
    long_story = " ".join(f"The harbour board met for the {n}th time." for n in range(60))
    (folder / "long.txt").write_text(f"Long story\n\n{long_story}", encoding="utf-8")
    indexer = Indexer(settings, fake_embedder)
    indexer.index_paths([folder])
    store = store_of(settings)
    victim = [c for c in store.chunks() if c.doc_id.endswith("long.txt")][-1]
    assert victim.chunk_count > 1
    store.collection.delete(ids=[victim.id])
    report = indexer.index_paths([folder])
    assert report.updated == 1
    assert victim.id in {c.id for c in store.chunks()}


def test_leftover_old_version_is_cleaned(settings, fake_embedder, folder):
    indexer = Indexer(settings, fake_embedder)
    indexer.index_paths([folder])
    shutil.copy(folder / "a0.txt", folder / "keep.txt")
    (folder / "a0.txt").write_text("Other headline\n\nDifferent words.", encoding="utf-8")
    indexer.index_paths([folder])
    docs = {d.doc_id: d for d in store_of(settings).documents()}
    assert all(len(d.all_hashes) == 1 for d in docs.values())


def test_changed_chunk_settings_are_refused_until_rebuild(
    settings, fake_embedder, folder, tmp_path
):
    Indexer(settings, fake_embedder).index_paths([folder])
    other = make_settings(tmp_path / "index", chunk_tokens=128)
    with pytest.raises(IncompatibleIndexError, match="--rebuild"):
        Indexer(other, fake_embedder).index_paths([folder])
    assert Indexer(other, fake_embedder).index_paths([folder], rebuild=True).added == 3


def test_an_index_of_another_schema_is_refused_until_rebuild(settings, fake_embedder, folder):
    Indexer(settings, fake_embedder).index_paths([folder])
    store = store_of(settings)
    metadata = dict(store.collection.metadata) | {"factdesk_schema": SCHEMA_VERSION - 1}
    store.collection.modify(metadata=metadata)
    with pytest.raises(IncompatibleIndexError, match="another version of factdesk") as refused:
        store_of(settings).check_compatible()
    assert "settings" not in str(refused.value) and "--rebuild" in str(refused.value)
    assert Indexer(settings, fake_embedder).index_paths([folder], rebuild=True).added == 3
    store_of(settings).check_compatible()


def test_second_concurrent_run_is_refused(settings, fake_embedder, folder):
    with index_lock(settings), pytest.raises(IndexBusyError, match="already running"):
        Indexer(settings, fake_embedder).index_paths([folder])


def test_indexing_another_folder_keeps_existing_documents(settings, fake_embedder, folder):
    indexer = Indexer(settings, fake_embedder)
    indexer.index_paths([folder])
    report = indexer.index_paths([SEEDS])
    assert report.added == 1 and report.removed == 0
    assert len(chunk_ids_by_doc(settings)) == 4


def test_web_articles_are_indexed_incrementally_by_canonical_url(settings, fake_embedder, folder):
    indexer = Indexer(settings, fake_embedder)
    store = store_of(settings)
    with NewsServer() as server:
        news_site(server)
        feed = [server.url("/feed.xml")]
        first = indexer.index_scan(gather(feed, settings))
        assert (first.added, first.updated, first.removed, first.unchanged) == (2, 0, 0, 0)
        harbour, bridge = server.url("/news/harbour-ferry"), server.url("/news/bridge-repairs")
        documents = {d.doc_id: d for d in store.documents()}
        assert {d: documents[d].published for d in documents} == {
            harbour: "2024-03-05",
            bridge: "2024-04-18",
        }
        assert {c.published for c in store.chunks() if c.doc_id == harbour} == {"2024-03-05"}

        second = indexer.index_scan(gather(feed, settings))
        assert (second.added, second.updated, second.unchanged, second.chunks_written) == (
            0,
            0,
            2,
            0,
        )

        later = page("bridge.html", server.base).body.replace(b"October", b"November")
        server.routes["/news/bridge-repairs"] = lambda s: Response(later)
        third = indexer.index_scan(gather(feed, settings))
        assert (third.added, third.updated, third.unchanged) == (0, 1, 1)
        texts = " ".join(c.text for c in store.chunks() if c.doc_id == bridge)
        assert "November" in texts and "October" not in texts

        with pytest.raises(FetchError):
            gather([f"http://127.0.0.1:{free_port()}/feed.xml"], settings)

    fourth = indexer.index_paths([folder])  # another source: the web articles stay
    assert (fourth.added, fourth.removed) == (3, 0)
    assert {harbour, bridge} <= set(chunk_ids_by_doc(settings))


def test_every_spaces_runs_start_to_start_and_never_bursts():
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    runs = every(10.0, sleep=sleep, clock=lambda: now[0])
    assert next(runs) == 1
    now[0] += 3.0  # a 3 s run waits 7 s
    assert next(runs) == 2
    now[0] += 25.0  # a 25 s run is followed at once, not by two catch-up runs
    assert next(runs) == 3
    now[0] += 1.0
    assert next(runs) == 4
    assert waits == [7.0, 0.0, 9.0]


def test_every_passage_keeps_its_sentences_and_their_vectors(settings, fake_embedder, folder):
    Indexer(settings, fake_embedder).index_paths([folder])
    for chunk in store_of(settings).chunks():
        texts = [chunk.text[start:end] for start, end in chunk.sentences]
        assert texts and all(text.strip() for text in texts)
        assert chunk.sentence_vectors.shape == (len(texts), fake_embedder.dimensions)
        cosines = (chunk.sentence_vectors * fake_embedder.embed(texts)).sum(axis=1)
        assert cosines.min() > 0.999  # stored as float16


def test_passages_and_their_sentences_are_embedded_in_one_pass(settings, tmp_path):
    class Recording(FakeEmbedder):
        def __init__(self) -> None:
            self.alone: list[str] = []
            self.in_context: list[tuple[str, list[str]]] = []

        def embed(self, texts, batch_size: int = 8):
            self.alone.extend(texts)
            return super().embed(texts, batch_size)

        def embed_in_context(self, texts, spans, batch_size: int = 8):
            for text, own in zip(texts, spans, strict=True):
                self.in_context.append((text, [text[start:end] for start, end in own]))
            return FakeEmbedder().embed_in_context(texts, spans, batch_size)

    article = tmp_path / "long.txt"
    sentences = [f"Item {n} on the agenda was the harbour plan of ward {n}." for n in range(90)]
    article.write_text("Council minutes\n\n" + " ".join(sentences), encoding="utf-8")
    embedder = Recording()
    Indexer(settings, embedder).index_paths([article])
    chunks = store_of(settings).chunks()
    assert len(chunks) > 1
    read = dict(embedder.in_context)
    for chunk in chunks:
        assert read[chunk.embedding_text] == [chunk.text[s:e] for s, e in chunk.sentences]
    assert len(embedder.in_context) == len(chunks)
    assert embedder.alone == []


def test_the_keyword_index_is_saved_per_generation_and_old_ones_pruned(
    settings, fake_embedder, folder
):
    from factdesk.search.retrieval import Retriever

    indexer = Indexer(settings, fake_embedder)
    indexer.index_paths([folder])
    root = store_of(settings).keyword_root
    (first,) = [p for p in root.iterdir() if p.is_dir()]
    retriever = Retriever(store_of(settings), settings)
    assert retriever.size == 3
    for n in range(3):
        (folder / f"new{n}.txt").write_text(ARTICLE.format(n=n + 10), encoding="utf-8")
        indexer.index_paths([folder])
    saved = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert len(saved) == 2 and first.name not in saved
    hits = retriever.retrieve("voted 12 times", fake_embedder.embed_one("voted 12 times"), 1)
    assert retriever.size == 6 and "12 times" in hits[0].chunk.text
