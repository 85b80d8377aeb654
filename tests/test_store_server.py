"""The same pipeline against a real `chroma run` server on loopback."""

from __future__ import annotations

import pytest

from factdesk.errors import StoreUnavailableError
from factdesk.ingest.indexer import Indexer
from factdesk.service import load_pipeline

from .conftest import make_settings

pytestmark = [pytest.mark.slow, pytest.mark.server]


def server_settings(tmp_path, server, **overrides):
    return make_settings(
        tmp_path / "local", chroma_host="127.0.0.1", chroma_port=server.port, **overrides
    )


def test_answers_from_a_chroma_server(tmp_path, chroma_server, embedder):
    settings = server_settings(tmp_path, chroma_server)
    pipeline = load_pipeline(settings, embedder=embedder)  # indexes seeds/ into the server
    answer = pipeline.ask("How many advisers remain?")
    assert "just a few dozen" in answer.answer
    assert not (tmp_path / "local" / "chroma.sqlite3").exists(), "nothing stored locally"
    retriever = pipeline.retriever
    assert retriever.size == retriever.store.count() > 0


def test_keyword_side_follows_new_articles(tmp_path, chroma_server, embedder):
    settings = server_settings(tmp_path, chroma_server)
    pipeline = load_pipeline(settings, embedder=embedder)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "zoo.txt").write_text(
        "Zoo news\n\nThe Quokkaville zoo welcomed a baby okapi named Zuri on Tuesday.",
        encoding="utf-8",
    )
    Indexer(settings, embedder).index_paths([extra])
    answer = pipeline.ask("What was the baby okapi at Quokkaville called?")
    assert answer.answered and "Zuri" in answer.answer


def test_server_down_then_back(tmp_path, chroma_server, embedder):
    settings = server_settings(tmp_path, chroma_server)
    pipeline = load_pipeline(settings, embedder=embedder)
    chroma_server.stop()
    with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{chroma_server.port}"):
        pipeline.ask("How many advisers remain?")
    chroma_server.start()
    assert "just a few dozen" in pipeline.ask("How many advisers remain?").answer


def test_server_down_at_start_up_names_host_and_port(tmp_path, embedder):
    from .conftest import free_port

    port = free_port()
    settings = make_settings(tmp_path / "local", chroma_host="127.0.0.1", chroma_port=port)
    with pytest.raises(StoreUnavailableError, match=f"Chroma server at 127.0.0.1:{port}"):
        load_pipeline(settings, embedder=embedder)
