"""`factdesk index` as a person sees it: what it found, progress, a warning for a folder that holds
no news, Ctrl-C that keeps what was done, and one entry per article. Run in this process with the
fake model in place of the real one, which these behaviours do not depend on."""

from __future__ import annotations

import json
import os

import pytest

from .conftest import invoke_factdesk
from .newsserver import HARBOUR_TITLE, page


class Interrupting:
    """The fake model, pressed Ctrl-C on while it embeds its `at`-th batch."""

    def __init__(self, model, at: int) -> None:
        self.model, self.at, self.calls = model, at, 0

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    def embed_in_context(self, texts, spans, batch_size: int = 8):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.model.embed_in_context(texts, spans, batch_size)


@pytest.fixture
def model(fake_model):
    return fake_model


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "FACTDESK_INDEX_DIR": str(tmp_path / "index"),
        "FACTDESK_SEEDS_DIR": str(tmp_path / "seeds"),
        "FACTDESK_READER": "none",
        "FACTDESK_FETCH_ALLOW_PRIVATE": "true",
    }


def articles(folder, count: int):
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"story-{n:02}.md").write_text(
            f"# Story {n}\n\nThe harbour reopened on day {n} after repairs.", encoding="utf-8"
        )
    return folder


def test_index_says_what_it_found_then_a_progress_line_every_few_articles(model, env, tmp_path):
    folder = articles(tmp_path / "news", 40)
    result = invoke_factdesk("index", str(folder), env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == f"Found 40 article files in {folder}."
    assert lines[1] == "Indexing 40 articles…"
    # Stored 16 passages at a time (here one an article), a line after each tenth or so, and
    # one at the end.
    progress = [line.split(" (")[0] for line in lines[2:]]
    assert progress == [
        "Indexing: 16 of 40 articles",
        "Indexing: 32 of 40 articles",
        "Indexing: 40 of 40 articles",
    ]
    assert all("/s" in line for line in lines[2:]) and "left" in lines[2]
    assert "40 added" in result.stdout


@pytest.fixture
def terminal(monkeypatch):
    """stderr as a terminal, its screen kept as text."""
    import io

    from rich.console import Console

    from factdesk import cli

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, color_system=None, highlight=False)
    monkeypatch.setattr(cli, "stderr", console)
    return screen


def test_on_a_terminal_bars_count_the_files_read_then_the_articles_indexed(
    model, env, tmp_path, terminal
):
    result = invoke_factdesk("index", str(articles(tmp_path / "news", 20)), env=env)
    assert result.returncode == 0
    shown = terminal.getvalue()
    assert "20/20 files" in shown and "20/20 articles" in shown
    assert shown.index("Reading") < shown.index("Indexing")


def test_a_folder_of_code_and_licences_is_warned_about_before_indexing(model, env, tmp_path):
    folder = tmp_path / "cache"
    articles(folder / "lib", 2)
    (folder / "LICENSE.txt").write_text("Permission is hereby granted, free of charge.")
    packages = folder / "site-packages" / "pkg"
    packages.mkdir(parents=True)
    for n in range(25):
        (packages / f"module{n}.pyc").write_bytes(b"\0\0")
    result = invoke_factdesk("index", str(folder), env=env)
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"Warning: {folder} looks like no news folder: 26 of its 28 files")
    assert "(LICENSE, site-packages/)" in lines[0]
    assert lines[1].endswith("(25 other files skipped).")
    assert not any("looks like" in line for line in lines[2:])


def test_a_news_folder_gets_no_such_warning(model, env, tmp_path):
    folder = articles(tmp_path / "news", 30)
    (folder / "notes.json").write_text("{}")
    result = invoke_factdesk("index", str(folder), env=env)
    assert "Warning: " + str(folder) not in result.stderr
    assert "(1 other file skipped)" in result.stderr


def test_ctrl_c_keeps_what_was_indexed_and_says_so(model, env, tmp_path, fake_embedder):
    folder = articles(tmp_path / "news", 40)
    model["model"] = Interrupting(fake_embedder, at=3)  # after two batches of 16 articles
    interrupted = invoke_factdesk("index", str(folder), env=env)
    assert interrupted.returncode == 130
    assert interrupted.stderr.splitlines()[-1] == (
        "Interrupted: kept 32 of 40 articles; run the same command again to finish."
    )
    assert "Traceback" not in interrupted.stderr

    status = invoke_factdesk("status", env=env)
    assert "Documents   32 (32 chunks)" in status.stdout

    model["model"] = fake_embedder
    again = invoke_factdesk("index", str(folder), env=env)
    assert again.returncode == 0, again.stderr
    assert "8 added, 0 updated, 0 removed, 32 skipped (unchanged)" in again.stdout


def test_ctrl_c_before_indexing_says_the_index_is_as_it_was(model, env, tmp_path, monkeypatch):
    from factdesk.search.embeddings import Embedder

    def loading(settings):
        raise KeyboardInterrupt  # while the model loads

    monkeypatch.setattr(Embedder, "from_settings", staticmethod(loading))
    result = invoke_factdesk("index", str(articles(tmp_path / "news", 3)), env=env)
    assert result.returncode == 130
    assert result.stderr.splitlines()[-1] == (
        "Interrupted before indexing began: the index is as it was."
    )


def test_ctrl_c_during_a_rebuild_leaves_the_index_as_it_was(model, env, tmp_path, fake_embedder):
    folder = articles(tmp_path / "news", 40)
    assert invoke_factdesk("index", str(folder), env=env).returncode == 0
    model["model"] = Interrupting(fake_embedder, at=2)
    interrupted = invoke_factdesk("index", "--rebuild", str(folder), env=env)
    assert interrupted.returncode == 130
    assert "the rebuild was abandoned and the index is as it was" in interrupted.stderr
    assert "Documents   40 (40 chunks)" in invoke_factdesk("status", env=env).stdout


def test_a_saved_page_and_the_same_page_from_the_web_are_one_article(model, env, tmp_path, news):
    saved = tmp_path / "saved"
    saved.mkdir()
    html = page("harbour.html", news.base).body.decode("utf-8")
    (saved / "harbour.html").write_text(html, encoding="utf-8")
    url = news.url("/news/harbour-ferry")

    from_web = invoke_factdesk("index", url, env=env)
    assert from_web.returncode == 0, from_web.stderr
    from_file = invoke_factdesk("index", str(saved), env=env)
    assert from_file.returncode == 0, from_file.stderr
    assert f"Note: {saved / 'harbour.html'} is the article indexed as {url}" in from_file.stderr
    assert "0 added" in from_file.stdout
    assert "Documents   1 " in invoke_factdesk("status", env=env).stdout

    asked = invoke_factdesk("ask", "--json", "When will the harbour ferry service resume?", env=env)
    citations = json.loads(asked.stdout)["citations"]
    assert citations and {c["title"] for c in citations} == {HARBOUR_TITLE}
    assert len({c["source"] for c in citations}) == 1


def test_in_one_run_the_first_of_two_copies_is_kept(model, env, tmp_path, news):
    saved = tmp_path / "saved"
    saved.mkdir()
    html = page("harbour.html", news.base).body.decode("utf-8")
    for name in ("a-harbour.html", "b-harbour-copy.html"):
        (saved / name).write_text(html, encoding="utf-8")
    result = invoke_factdesk("index", str(saved), env=env)
    assert result.returncode == 0, result.stderr
    assert f"Note: {saved / 'b-harbour-copy.html'} is the article indexed as " in result.stderr
    assert "1 added" in result.stdout
