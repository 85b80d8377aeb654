"""Faults during ingestion and querying: bad files, crashes, concurrent runs, many threads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from factdesk.answer.schema import answer_json
from factdesk.ingest.indexer import Indexer, fingerprint, index_lock
from factdesk.search.store import Store
from factdesk.service import load_pipeline

from .conftest import REPO, SEEDS, make_settings

pytestmark = pytest.mark.slow

ARTICLES = 120  # several of the indexer's batches of 16 chunks


def factdesk(*args: str, env: dict, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "factdesk", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def write_articles(folder: Path, count: int) -> None:
    """Short articles, a chunk each: many of them make a run long enough to interrupt, in
    several batches, at little embedding cost."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        body = " ".join(f"Ward {n} reported {k} new bus shelters on Elm Street." for k in range(3))
        (folder / f"ward{n:03d}.txt").write_text(f"Ward {n} report\n\n{body}", encoding="utf-8")


def test_mixed_folder_indexes_the_good_files(tmp_path, embedder):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for seed in SEEDS.glob("*.txt"):
        (folder / seed.name).write_bytes(seed.read_bytes())
    (folder / "tram.md").write_text("# Trams\n\nThe tram line opens in May.", encoding="utf-8")
    (folder / "image.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "legacy.txt").write_bytes("Se\xf1or Ram\xedrez dijo".encode("latin-1"))
    (folder / "empty.txt").write_text("", encoding="utf-8")
    with (folder / "huge.txt").open("w", encoding="utf-8") as huge:
        huge.write("All work and no play. " * 1_000_000)  # about 22 MB
    (folder / "vanished.txt").symlink_to(folder / "deleted-before-it-was-read.txt")
    settings = make_settings(tmp_path / "index")
    report = Indexer(settings, embedder).index_paths([folder])
    assert report.added == 2
    reasons = {item.source.rsplit("/", 1)[-1]: item.reason for item in report.skipped}
    assert reasons.keys() == {"image.txt", "legacy.txt", "empty.txt", "huge.txt", "vanished.txt"}
    assert reasons["vanished.txt"] == "disappeared while indexing"
    assert reasons["huge.txt"].startswith("too large")
    pipeline = load_pipeline(settings, embedder=embedder)
    assert "few dozen" in pipeline.ask("How many advisers remain?").answer
    assert "May" in pipeline.ask("When does the tram line open?").answer


def test_killed_index_run_leaves_previous_index_answerable(tmp_path, embedder):
    settings = make_settings(tmp_path / "index")
    Indexer(settings, embedder).index_paths([SEEDS])
    articles = tmp_path / "articles"
    store = Store(settings, fingerprint(settings))
    seed_chunks = store.count()
    write_articles(articles, ARTICLES)
    env = {**os.environ, "FACTDESK_INDEX_DIR": str(settings.index_dir)}
    run = factdesk("index", str(SEEDS), str(articles), env=env)
    deadline = time.monotonic() + 120
    while store.count() == seed_chunks and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)  # wait until it has written its first batch of the new articles
    assert run.poll() is None, "the run finished before it could be killed"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()

    pipeline = load_pipeline(settings, embedder=embedder)
    assert "just a few dozen" in pipeline.ask("How many advisers remain?").answer

    finished = Indexer(settings, embedder).index_paths([SEEDS, articles])  # the next run
    assert finished.added > 0 and finished.unchanged >= 1  # it carries on; the seed is kept
    documents = Store(settings, fingerprint(settings)).documents()
    assert len(documents) == ARTICLES + 1
    assert all(len(d.complete_hashes) == len(d.all_hashes) == 1 for d in documents)
    chunks = Store(settings, fingerprint(settings)).chunks()
    assert len({(c.doc_id, c.position) for c in chunks}) == len(chunks)


def test_an_index_run_is_refused_while_another_holds_the_index(tmp_path):
    """The lock a running `factdesk index` holds, held here: the command refuses at once."""
    articles = tmp_path / "articles"
    write_articles(articles, 2)
    settings = make_settings(tmp_path / "index")
    env = {**os.environ, "FACTDESK_INDEX_DIR": str(settings.index_dir)}
    with index_lock(settings):
        second = factdesk("index", str(articles), env=env)
        _, second_err = second.communicate(timeout=120)
    assert second.returncode == 5
    assert second_err.strip().splitlines()[-1] == (
        "Error: Another `factdesk index` is already running on this index; "
        "try again when it has finished."
    )
    assert Store(settings, fingerprint(settings)).count() == 0  # it wrote nothing


def test_concurrent_questions_get_the_same_answers(seed_pipeline):
    questions = [
        "How many advisers remain?",
        "Who is Mark Galeotti?",
        "What did the ambassador say?",
        "When did Rostec fulfil its last contract?",
        "What is the capital of France?",
        "Why is Rostec leaving?",
        "What did Moscow supply to Caracas?",
        "Is Venezuela paying?",
    ]
    alone = {q: answer_json(seed_pipeline.ask(q)) for q in questions}
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(lambda q: answer_json(seed_pipeline.ask(q)), questions * 4))
    assert concurrent == [alone[q] for q in questions * 4]
