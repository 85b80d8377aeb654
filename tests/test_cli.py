"""The real `factdesk` entry point: mostly run in this process (`invoke_factdesk`), and as a
subprocess, the way people use it, where only a process shows the behaviour (a first question on
a machine with no index, Ctrl-C)."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from .conftest import REPO, SEEDS, Ran, free_port, invoke_factdesk, run_factdesk
from .newsserver import BOILERPLATE, HARBOUR_TITLE, Response, fixed, rss


def run(*args: str, env: dict, stdin: str | None = None) -> Ran:
    return invoke_factdesk(*args, env=env, stdin=stdin)


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    index = tmp_path_factory.mktemp("cli-index")
    return {**os.environ, "FACTDESK_INDEX_DIR": str(index), "FACTDESK_SEEDS_DIR": str(SEEDS)}


def assert_clean_error(result, code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and text in lines[0], lines


@pytest.mark.slow
def test_ask_indexes_seeds_first_then_answers(tmp_path):
    env = {
        **os.environ,
        "FACTDESK_INDEX_DIR": str(tmp_path / "index"),
        "FACTDESK_SEEDS_DIR": str(SEEDS),
    }
    result = run_factdesk("ask", "How many advisers remain?", env=env)
    assert result.returncode == 0, result.stderr
    assert "indexing" in result.stderr and "1 added" in result.stderr
    assert "just a few dozen" in result.stdout and "[1]" in result.stdout
    assert "Sources" in result.stdout and SEEDS.name in result.stdout


@pytest.mark.slow
def test_ask_json(env):
    result = run("ask", "--json", "--top-k", "2", "Which analyst estimated the officers?", env=env)
    data = json.loads(result.stdout)
    assert data["answered"] and "Galeotti" in data["short_answer"]["text"]
    assert 1 <= len(data["citations"]) <= 2
    assert data["citations"][0]["n"] == 1 and data["citations"][0]["url"] is None


@pytest.mark.slow
def test_ask_batch_reads_one_question_a_line(env):
    questions = "How many advisers remain?\n\n   \nWhat is the capital of France?\n" + "x" * 3000
    result = run("ask", "--json", "-", env=env, stdin=questions)
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["answered"] for a in answers] == [True, False, False]
    assert "just a few dozen" in answers[0]["answer"]
    assert answers[1]["answer"] == "I couldn't find that in the indexed articles."
    assert "cut" in result.stderr


@pytest.mark.slow
def test_plain_batch_answers_each_under_its_question(env):
    questions = "How many advisers remain?\nWhat is the capital of France?\n"
    result = run("ask", "-", env=env, stdin=questions)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    headings = [n for n, line in enumerate(lines) if line.startswith(("How many", "What is"))]
    assert len(headings) == 2 and "─" in lines[headings[0]] and "─" in lines[headings[1]]
    assert lines[headings[1] - 1] == ""  # a blank line between the answers
    assert "few dozen" in "\n".join(lines[headings[0] : headings[1]])
    assert all(line == line.rstrip() for line in lines)


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(env):
    """`factdesk ask - | head -1`: the reader goes away, and that is not an error."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "factdesk", "ask", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdin and process.stdout
    process.stdin.write(b"How many advisers remain?\n" * 200)
    process.stdin.close()
    process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=300) == 0
    assert process.stderr and b"Traceback" not in process.stderr.read()


@pytest.mark.slow
def test_status_lists_documents(env):
    run("index", env=env)
    result = run("status", env=env)
    assert result.returncode == 0
    assert "000_d17e3c436e124a59" in result.stdout and "all-MiniLM-L6-v2" in result.stdout
    # the seed article has no headline: it is named by its first sentence, on one line
    assert " Russia’s defense conglomer…  " in result.stdout
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 and line == line.rstrip() for line in lines), lines


@pytest.mark.slow
def test_index_reports_skipped_files_with_exit_code(env, tmp_path):
    (tmp_path / "good.md").write_text("# Harbour\n\nThe harbour reopened.", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00\x00binary")
    result = run("index", str(tmp_path), env={**env, "FACTDESK_INDEX_DIR": str(tmp_path / "i")})
    assert result.returncode == 6, result.stderr
    assert "Warning: Skipped 1 file" in result.stderr and "bad.txt (binary file)" in result.stderr
    assert "1 added" in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["ask", "   "], 2, "question is empty"),
        (["ask"], 2, "Missing argument"),
        (["ask", "--bogus", "hi"], 2, "No such option"),
        (["ask", "--top-k", "0", "hi"], 2, "--top-k"),
        (["index", "no/such/folder"], 2, "No such file or folder: no/such/folder"),
        (["frobnicate"], 2, "No such command"),
    ],
)
def test_bad_input_gives_one_line_errors(env, args, code, text):
    assert_clean_error(run(*args, env=env), code, text)


@pytest.mark.parametrize(("args", "code"), [(["--version"], 0), (["frobnicate"], 2)])
def test_the_installed_command_exits_with_its_status_past_the_last_collection(
    monkeypatch, args, code
):
    """`factdesk` (and `python -m factdesk`) freeze the heap on the way out, so the interpreter
    does not walk every object the libraries made before it exits."""
    from factdesk.cli import run

    frozen: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    monkeypatch.setattr(sys, "argv", ["factdesk", *args])
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == code and frozen == [True]


def test_bad_setting_gives_one_line_error(env):
    result = run("status", env={**env, "FACTDESK_TOP_K": "many"})
    assert_clean_error(result, 2, "FACTDESK_TOP_K")


@pytest.mark.slow
def test_chat_answers_each_line_until_end_of_input(env):
    result = run("chat", env=env, stdin="How many advisers remain?\n\nWho is Mark Galeotti?\n")
    assert result.returncode == 0, result.stderr
    assert "just a few dozen" in result.stdout and "Analyst Mark Galeotti" in result.stdout
    assert result.stdout.count("Sources") == 2 and "Ctrl-D" in result.stderr


@pytest.mark.slow
def test_ask_json_lines_may_carry_their_history(env):
    follow_up = {
        "question": "What did he say?",
        "history": [{"question": "Who is Russia's ambassador in Venezuela?", "answer": "Zayemsky"}],
    }
    lines = "\n".join(
        [
            "What did he say?",
            json.dumps(follow_up),
            '{"question": "What did he say?", "history": "none"}',
            "{broken",
        ]
    )
    result = run("ask", "--json", "-", env=env, stdin=lines)
    assert result.returncode == 2, result.stderr  # two lines were refused: bad input
    alone, in_context, bad_history, bad_json = map(json.loads, result.stdout.splitlines())
    assert alone["standalone_question"] is None and alone["mode"] == "extractive"
    assert in_context["question"] == "What did he say?"
    assert in_context["standalone_question"] == "What did Russia's ambassador in Venezuela say?"
    assert "must be a list" in bad_history["error"] and "not valid JSON" in bad_json["error"]


@pytest.mark.slow
def test_chat_follow_ups_use_the_session_until_it_starts_over(env):
    stdin = "Who is Russia's ambassador in Venezuela?\nWhat did he say?\n/new\nWhat did he say?\n"
    result = run("chat", env=env, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("(read as: What did Russia's ambassador in Venezuela say?)") == 1
    assert "New conversation." in result.stderr and "/new" in result.stderr


@pytest.mark.slow
def test_llm_answers_stream_in_the_terminal_then_the_checked_answer(env, caplog):
    from .fake_llm import FakeLLM, Reply
    from .test_llm import two_sentences

    with FakeLLM() as llm:
        llm.reply_with(Reply(two_sentences), Reply(two_sentences), Reply(status=500))
        llm_env = {**env, "FACTDESK_LLM_URL": llm.url, "FACTDESK_LLM_MODEL": "fake"}
        shown = run("ask", "How many advisers remain?", env=llm_env)
        question = "How many advisers remain?\n"
        as_json = run("ask", "--json", "-", env=llm_env, stdin=question * 2)
    assert as_json.returncode == 0, as_json.stderr
    answered, failing = as_json.stdout.splitlines()
    assert shown.returncode == 0, shown.stderr
    assert "Rostec has cut its defense advisers" in shown.stderr  # streamed, first sentence
    assert "Rostec had 1,000 defense advisers" not in shown.stderr  # the last waits for the check
    printed = " ".join(shown.stdout.split())  # rich wraps lines at 80 columns
    assert "Rostec had 1,000 defense advisers" in printed
    assert "Written by the LLM" in printed and "Sources" in printed
    data = json.loads(answered)
    assert data["mode"] == "llm" and data["llm_withheld"] is None
    assert "Rostec has cut" not in as_json.stderr  # --json does not stream
    withheld = json.loads(failing)
    assert withheld["mode"] == "extractive" and withheld["llm_withheld"] == "error"
    # A warning on stderr (Python's last-resort handler) from a process; pytest's log here.
    assert "LLM answer withheld (error)" in caplog.text


@pytest.fixture
def web_env(tmp_path) -> dict:
    # the test news site is on loopback, which fetching refuses unless allowed
    return {
        **os.environ,
        "FACTDESK_INDEX_DIR": str(tmp_path / "index"),
        "FACTDESK_FETCH_ALLOW_PRIVATE": "true",
    }


def test_index_refuses_the_cloud_metadata_address_in_one_line(tmp_path):
    env = {**os.environ, "FACTDESK_INDEX_DIR": str(tmp_path / "index")}
    result = run("index", "http://169.254.169.254/latest/meta-data/", env=env)
    assert result.returncode == 8
    assert result.stderr == (
        "Error: Cannot fetch http://169.254.169.254/latest/meta-data/: 169.254.169.254 is a "
        "link-local (cloud metadata) address: refused (FACTDESK_FETCH_ALLOW_PRIVATE=true "
        "allows it)\n"
    )
    assert not (tmp_path / "index").exists()


@pytest.mark.slow
def test_index_a_feed_then_ask_cites_title_canonical_url_and_date(news, web_env):
    first = run("index", news.url("/feed.xml"), env=web_env)
    assert first.returncode == 0, first.stderr
    assert "2 added" in first.stdout

    # Whether the reader answers or declines, the passages it shows come from the article,
    # with its title, canonical URL and date, and never from the site around it.
    asked = run("ask", "--json", "When will the harbour ferry service resume?", env=web_env)
    answer = json.loads(asked.stdout)
    cited = answer["citations"][0]
    assert cited["title"] == HARBOUR_TITLE and cited["published"] == "2024-03-05"
    assert cited["url"] == cited["source"] == news.url("/news/harbour-ferry")
    assert cited["quote"] in cited["passage"] and "Port Ellen" in cited["passage"]
    quoted = [answer["answer"]] + [c["quote"] + c["passage"] for c in answer["citations"]]
    assert not [p for p in BOILERPLATE if p.lower() in " ".join(quoted).lower()]

    shown = run("ask", "When will the harbour ferry service resume?", env=web_env).stdout
    assert f"{HARBOUR_TITLE} (2024-03-05)" in " ".join(shown.split())

    second = run("index", news.url("/feed.xml"), env=web_env)
    assert second.returncode == 0, second.stderr
    assert "0 added, 0 updated, 0 removed, 2 skipped (unchanged)" in second.stdout
    assert "(0 embedded)" in second.stdout

    status = run("status", env=web_env).stdout
    assert "2024-03-05" in status and "2024-04-18" in status


@pytest.mark.parametrize("path", ["/feed.xml", "/missing.xml"])
def test_a_dead_feed_is_one_error_line(news, web_env, path):
    url = f"http://127.0.0.1:{free_port()}{path}" if path == "/feed.xml" else news.url(path)
    reason = "connection refused" if path == "/feed.xml" else "HTTP 404 Not Found"
    assert_clean_error(run("index", url, env=web_env), 8, f"Cannot fetch {url}: {reason}")


@pytest.mark.slow
def test_failing_feed_items_give_one_warning_each_and_exit_6(news, web_env):
    items = [
        (t, p, "Thu, 18 Apr 2024 05:00:00 GMT")
        for t, p in [
            ("Bridge", "/news/bridge-repairs"),
            ("Gone", "/missing"),
            ("Photo", "/photo.jpg"),
        ]
    ]
    news.routes["/mixed.xml"] = fixed(Response(rss(news.base, items), content_type="text/xml"))
    result = run("index", news.url("/mixed.xml"), env=web_env)
    assert result.returncode == 6, result.stderr
    feed = f"from the feed {news.url('/mixed.xml')}"
    assert result.stderr.splitlines()[0] == "Fetching 3 feed items…"  # found, before fetching
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert warnings == [
        f"Warning: Skipped {news.url('/missing')} {feed}: HTTP 404 Not Found",
        f"Warning: Skipped {news.url('/photo.jpg')} {feed}: not an HTML page or a feed "
        "(content type image/jpeg)",
    ]
    assert "1 added" in result.stdout


@pytest.mark.slow
def test_index_every_repeats_until_ctrl_c(news, web_env):
    web_env.pop("PYTHONUNBUFFERED", None)  # each summary must reach a pipe as it is printed
    process = subprocess.Popen(
        [sys.executable, "-m", "factdesk", "index", "--every", "1s", news.url("/feed.xml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=web_env,
        cwd=REPO,
        # Ctrl-C as in a terminal, even when pytest itself runs in the background, where the
        # shell has set SIGINT to be ignored and a child would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    summaries: list[str] = []
    reader = threading.Thread(target=lambda: summaries.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while len(summaries) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 0, stderr
    assert len(summaries) >= 2, stderr
    assert "2 added" in summaries[0] and "0 added, 0 updated" in summaries[1]
    assert "Traceback" not in stderr and stderr.strip().endswith("Stopped.")
