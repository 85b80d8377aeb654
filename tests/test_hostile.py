"""Hostile input, as an adversarial user would give it: odd files in an indexed folder, odd
questions, and a loopback site serving hostile pages, feeds and addresses, through the real
`factdesk` command, the real model and reader.

Each case ends in a bounded time (stated in seconds; a hang fails the test rather than holding
the suite) with a clear one-line warning or error and no traceback, and what was indexed before
is still answerable after.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from .conftest import SEEDS, Ran, bounded, invoke_factdesk
from .newsserver import BRIDGE_TITLE, Response, fixed, redirect, rss

SEED_QUESTION = "How many advisers remain?"
SEED_ANSWER = "just a few dozen"
CONTROLS = ("\x1b", "\x07", "\x9b")


def factdesk(seconds: float, *args: str, env: dict, stdin: str | None = None) -> Ran:
    """The real command in this process, which must end within `seconds`."""
    return bounded(seconds, invoke_factdesk, *args, env=env, stdin=stdin)


def assert_clean(result: Ran) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def warnings(result: Ran) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]


@pytest.fixture
def real_model(fake_model, embedder):
    """Commands load the session's real model (the reader too), instead of loading it again."""
    fake_model["model"] = embedder


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "FACTDESK_INDEX_DIR": str(tmp_path / "index"),
        "FACTDESK_SEEDS_DIR": str(SEEDS),
        "FACTDESK_FETCH_ALLOW_PRIVATE": "true",  # the hostile site is on loopback
    }


@pytest.fixture
def folder(tmp_path) -> Path:
    """A news folder holding the seed article."""
    news = tmp_path / "news"
    shutil.copytree(SEEDS, news)
    return news


def assert_seed_answered(env: dict) -> None:
    asked = factdesk(60, "ask", "--json", SEED_QUESTION, env=env)
    assert asked.returncode == 0, asked.stderr
    assert SEED_ANSWER in json.loads(asked.stdout)["answer"]


# -- questions -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("length", [1_300, 1_350, 1_500, 1_700, 2_000])
def test_every_question_the_cap_accepts_is_read(reader, length):
    """Up to 2,000 characters are accepted; from about 1,300 the question alone left the
    tokenizer no room for the passage, and it failed or panicked."""
    question = ("How many Russian defense advisers remain in Venezuela now? " * 40)[:length]
    passage = "Rostec has cut its defense advisers in Venezuela to just a few dozen now."
    assert not reader.fits(question)
    (span,) = bounded(30, reader.read, question, [passage])
    assert span is None or passage[span.start : span.end] == span.text


@pytest.mark.slow
def test_a_long_question_is_answered_with_a_note_that_it_was_cut(real_model, env, seed_index):
    env = {**env, "FACTDESK_INDEX_DIR": str(seed_index)}
    question = "How many advisers remain? " + "Please say how many remain in Venezuela. " * 35
    result = factdesk(60, "ask", question[:1_450], env=env)
    assert result.returncode == 0, result.stderr
    assert_clean(result)
    assert warnings(result) == [
        "Warning: The question is longer than the reader reads: it read its first 125 word pieces."
    ]


@pytest.mark.slow
def test_a_batch_goes_on_past_a_nested_line_and_an_overlong_question(real_model, env, seed_index):
    env = {**env, "FACTDESK_INDEX_DIR": str(seed_index)}
    nested = '{"question": ' + "[" * 100_000
    lines = [nested, "How many advisers remain in Venezuela? " * 40, SEED_QUESTION]
    result = factdesk(60, "ask", "--json", "-", env=env, stdin="\n".join(lines) + "\n")
    assert_clean(result)
    assert result.returncode == 2  # the first failure's status; the batch went on
    error, long, seed = (json.loads(line) for line in result.stdout.splitlines())
    assert error["error"] == "The line's JSON is nested too deeply to read."
    assert "answered" in long and "error" not in long
    assert seed["answered"] and SEED_ANSWER in seed["answer"]
    assert "it read its first 125 word pieces" in result.stderr


# -- files -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_pipe_and_a_device_in_a_folder_are_skipped_not_read(real_model, env, folder):
    assert factdesk(60, "index", str(folder), env=env).returncode == 0
    os.mkfifo(folder / "wire.txt")  # nobody ever writes to it
    (folder / "zero.txt").symlink_to("/dev/zero")  # reads for ever

    result = factdesk(30, "index", str(folder), env={**env, "FACTDESK_FOLLOW_OUTSIDE_LINKS": "1"})
    assert result.returncode == 6, result.stderr
    assert_clean(result)
    assert warnings(result) == [
        f"Warning: Skipped 2 files: {folder}/wire.txt (not a regular file (a named pipe)); "
        f"{folder}/zero.txt (not a regular file (a device))"
    ]
    named = factdesk(30, "index", str(folder / "wire.txt"), env=env)
    assert named.returncode == 6 and "a named pipe" in named.stderr
    assert_seed_answered(env)


@pytest.mark.slow
def test_a_link_to_a_file_outside_the_folder_is_not_followed(real_model, env, folder, tmp_path):
    secret = tmp_path / "private" / "credentials.txt"
    secret.parent.mkdir()
    secret.write_text("Access codes\n\nThe vault access code is 7731-alpha, issued in March.\n")
    (folder / "credentials.txt").symlink_to(secret)
    (folder / "again.txt").symlink_to(next(folder.glob("000_*.txt")))  # inside: followed

    result = factdesk(60, "index", str(folder), env=env)
    assert result.returncode == 6, result.stderr
    assert warnings(result) == [
        f"Warning: Skipped 1 file: {folder}/credentials.txt (a link to a file outside the "
        "folder (FACTDESK_FOLLOW_OUTSIDE_LINKS=true follows it))"
    ]
    assert "Documents   1 " in factdesk(30, "status", env=env).stdout
    asked = factdesk(60, "ask", "--json", "What is the vault access code?", env=env)
    assert "7731" not in asked.stdout
    assert_seed_answered(env)

    allowed = factdesk(60, "index", str(folder), env={**env, "FACTDESK_FOLLOW_OUTSIDE_LINKS": "1"})
    assert allowed.returncode == 0, allowed.stderr
    assert "1 added" in allowed.stdout


@pytest.mark.slow
def test_a_file_that_becomes_unreadable_keeps_what_was_indexed(real_model, env, folder):
    assert factdesk(60, "index", str(folder), env=env).returncode == 0
    seed = next(folder.glob("000_*.txt"))
    seed.unlink()
    seed.symlink_to(seed.name)  # a link to itself: there, but no read ever gets through

    result = factdesk(60, "index", str(folder), env=env)
    assert result.returncode == 6, result.stderr
    assert_clean(result)
    assert warnings(result) == [
        f"Warning: Skipped 1 file: {seed} (unreadable (Too many levels of symbolic links); "
        "what was indexed from it is kept)"
    ]
    assert "0 removed" in result.stdout
    assert_seed_answered(env)

    seed.unlink()  # gone for good: removed from the index
    assert "1 removed" in factdesk(60, "index", str(folder), env=env).stdout


def reads_without_permission() -> bool:
    """Whether this process reads a file it has no permission for (root, usually)."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        probe = Path(scratch) / "probe"
        probe.write_text("x")
        probe.chmod(0)
        try:
            probe.read_text()
        except PermissionError:
            return False
        return True


@pytest.mark.slow
@pytest.mark.skipif(reads_without_permission(), reason="this user reads files without permission")
def test_a_file_or_folder_without_permission_keeps_what_was_indexed(real_model, env, folder):
    inner = folder / "inner"
    inner.mkdir()
    shutil.copy(next(SEEDS.glob("*.txt")), inner / "copy.txt")
    (folder / "other.md").write_text("# Harbour\n\nThe harbour ferry resumes on 12 May.\n")
    assert factdesk(60, "index", str(folder), env=env).returncode == 0
    (folder / "other.md").chmod(0)
    inner.chmod(0)
    try:
        result = factdesk(60, "index", str(folder), env=env)
    finally:
        inner.chmod(0o755)
    assert result.returncode == 6 and "0 removed" in result.stdout, result.stderr
    assert "(unreadable (Permission denied); what was indexed from it is kept)" in result.stderr
    assert "unreadable folder (Permission denied)" in result.stderr
    assert_seed_answered(env)


@pytest.mark.slow
def test_control_characters_in_files_and_questions_never_reach_the_terminal(
    real_model, env, folder
):
    hostile = folder / "\x1b]0;pwned\x07harbour\x1b[2J.txt"
    hostile.write_text(
        "\x1b[2J\x1b]0;owned\x07Harbour ferry to resume\n\n"
        "The harbour ferry between Port Ellen and Kilbride will resume on 12 May, the operator "
        "said on Tuesday.\n"
    )
    (folder / "\x1b[31mnotes\x9b.json").write_text("{}")
    indexed = factdesk(60, "index", str(folder), env=env)
    status = factdesk(30, "status", env=env)
    asked = factdesk(60, "ask", "When will the harbour ferry resume?", env=env)
    batch = factdesk(60, "ask", "-", env=env, stdin="When will the \x1b[2Jharbour ferry resume?\n")
    for result in (indexed, status, asked, batch):
        assert_clean(result)
        shown = result.stdout + result.stderr
        assert not any(control in shown for control in CONTROLS), shown
    assert indexed.returncode == 6 and "\\x1b[31mnotes\\x9b.json" in indexed.stderr
    assert "\\x1b[2J\\x1b]0;owned" in status.stdout  # the title, escaped
    unwrapped = asked.stdout.replace("\n    ", "")  # a long path wraps where the folder says
    assert "12 May" in asked.stdout and "\\x1b]0;pwned\\x07harbour\\x1b[2J.txt" in unwrapped
    assert "When will the \\x1b[2Jharbour ferry resume?" in batch.stdout


@pytest.mark.slow
def test_a_megabyte_title_is_cut_where_it_is_kept_and_where_it_is_shown(real_model, env, folder):
    title = "Harbour ferry " * 75_000  # about a megabyte
    (folder / "ferry.html").write_text(
        f"<html><head><title>{title}</title></head><body><article><p>The harbour ferry "
        "between Port Ellen and Kilbride will resume on 12 May, the operator said on Tuesday, "
        "after repairs to the slipway.</p></article></body></html>"
    )
    assert factdesk(60, "index", str(folder), env=env).returncode == 0
    asked = factdesk(60, "ask", "--json", "When will the harbour ferry resume?", env=env)
    (citation,) = [c for c in json.loads(asked.stdout)["citations"] if "ferry" in c["source"]]
    assert citation["title"].startswith("Harbour ferry") and len(citation["title"]) <= 300
    shown = factdesk(60, "ask", "When will the harbour ferry resume?", env=env).stdout
    assert "Harbour ferry Harbour ferry Harbour…" in shown
    assert shown.count("Harbour ferry") < 10  # a heading of 120 characters, not of 10,000
    assert_seed_answered(env)


@pytest.mark.slow
def test_identical_passages_do_not_crowd_out_other_articles(real_model, env, folder):
    paragraph = (
        "Copies of this paragraph fill the file: the same words, about nothing in particular, "
        "repeated to crowd every other passage out of the search."
    )
    (folder / "copies.txt").write_text("\n\n".join([paragraph] * 300))
    result = factdesk(60, "index", str(folder), env=env)
    assert result.returncode == 0, result.stderr
    status = factdesk(30, "status", env=env).stdout
    copies = next(line for line in status.splitlines() if "copies.txt" in line)
    assert int(copies.split()[-1]) <= 3  # passages stored, not 150
    assert_seed_answered(env)


# -- the web ---------------------------------------------------------------------------------


@pytest.fixture
def indexed(real_model, env, folder) -> dict[str, str]:
    """The seed article indexed, before anything hostile is fetched."""
    assert factdesk(60, "index", str(folder), env=env).returncode == 0
    return env


@pytest.mark.slow
def test_headers_sent_a_byte_at_a_time_time_out_with_the_request(indexed, news):
    news.routes["/drip"] = fixed(Response(b"<html></html>", head_trickle=0.2))
    env = {**indexed, "FACTDESK_FETCH_TIMEOUT": "1"}
    result = factdesk(10, "index", news.url("/drip"), env=env)  # the headers alone take 16 s
    assert result.returncode == 8
    assert result.stderr.strip() == f"Error: Cannot fetch {news.url('/drip')}: timed out after 1 s"
    assert_seed_answered(env)


def story(n: int) -> bytes:
    return (
        f"<html><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
        f"<p>The council said on day {n} that the harbour ferry timetable will change again, "
        "with an extra sailing on weekday mornings and one fewer in the evening.</p>"
        "</article></body></html>"
    ).encode()


@pytest.mark.slow
def test_a_feed_is_cut_to_its_newest_items(indexed, news):
    items = []
    for n in range(30):
        news.routes[f"/story/{n}"] = fixed(Response(story(n)))
        items.append((f"Story {n}", f"/story/{n}", f"Tue, {n + 1:02d} Jan 2024 08:00:00 GMT"))
    news.routes["/long.xml"] = fixed(Response(rss(news.base, items), content_type="text/xml"))
    env = {**indexed, "FACTDESK_FEED_MAX_ITEMS": "5"}
    result = factdesk(60, "index", news.url("/long.xml"), env=env)
    assert result.returncode == 0, result.stderr
    assert warnings(result) == [
        f"Warning: The feed {news.url('/long.xml')} lists 30 items: only the newest 5 are read "
        "(FACTDESK_FEED_MAX_ITEMS)."
    ]
    fetched = sorted(n for n in range(30) if news.hits(f"/story/{n}"))
    assert fetched == [25, 26, 27, 28, 29]
    assert "5 added" in result.stdout
    assert_seed_answered(env)


def test_feed_items_are_parsed_as_they_arrive_not_held(news, tmp_path):
    """Forty items of half a megabyte: the bodies are parsed as they come and let go, so the
    run never holds more than a few of them."""
    import tracemalloc

    from factdesk.ingest.sources import gather

    from .conftest import make_settings

    filler = "<!-- " + "x" * 500_000 + " -->"
    items = []
    for n in range(40):
        body = story(n).replace(b"<body>", b"<body>" + filler.encode())
        news.routes[f"/big/{n}"] = fixed(Response(body))
        items.append((f"Story {n}", f"/big/{n}", "Tue, 02 Jan 2024 08:00:00 GMT"))
    news.routes["/big.xml"] = fixed(Response(rss(news.base, items), content_type="text/xml"))
    settings = make_settings(tmp_path / "index", max_file_mb=1)
    gather([news.url("/big/0")], settings)  # the parsers' modules, loaded before measuring
    tracemalloc.start()
    try:
        scan = bounded(60, gather, [news.url("/big.xml")], settings)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(scan.articles) == 40 and not scan.skipped
    assert peak < 10_000_000  # half of the 20 MB of bodies; holding them all took 21 MB


@pytest.mark.slow
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://0177.0.0.1:1/", "not a valid web address (Invalid IPv4 address: '0177.0.0.1')"),
        ("http://[::1/", "not a valid web address (Invalid IPv6 URL)"),
        ("http://127.0.0.1:99999/", "not a valid web address (Port out of range 0-65535)"),
    ],
)
def test_a_malformed_url_is_one_clean_error(indexed, url, reason):
    result = factdesk(30, "index", url, env=indexed)
    assert result.returncode == 8
    assert result.stderr.strip() == f"Error: Cannot fetch {url}: {reason}"
    assert_seed_answered(indexed)


@pytest.mark.slow
def test_a_feed_with_malformed_links_indexes_the_rest(indexed, news):
    port = news.base.rsplit(":", 1)[1]
    news.routes["/odd-redirect"] = redirect(f"http:127.0.0.1:{port}/news/bridge-repairs")
    date = "Thu, 18 Apr 2024 05:00:00 GMT"
    links = ["http://[::1/", "http://0177.0.0.1:1/", news.url("/odd-redirect")]
    items = [(BRIDGE_TITLE, "/news/bridge-repairs", date)] + [(u, u, date) for u in links]
    news.routes["/odd.xml"] = fixed(Response(rss(news.base, items), content_type="text/xml"))
    result = factdesk(60, "index", news.url("/odd.xml"), env=indexed)
    assert result.returncode == 6, result.stderr
    assert_clean(result)
    assert "1 added" in result.stdout
    skipped = warnings(result)
    assert len(skipped) == 3 and all(f"from the feed {news.url('/odd.xml')}" in s for s in skipped)
    assert skipped[0].startswith("Warning: Skipped item 'http://[::1/' from the feed")
    assert skipped[0].endswith(": the feed gives no link")  # feedparser drops such a link
    assert "not a valid web address (Invalid IPv4 address: '0177.0.0.1')" in skipped[1]
    assert skipped[2].startswith(f"Warning: Skipped {news.url('/odd-redirect')} from the feed")
    assert "not a valid web address" in skipped[2]
    assert_seed_answered(indexed)
