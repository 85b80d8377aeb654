"""Load on the Slack bot: hundreds of signed mentions from concurrent senders, over loopback.

    python benchmarks/load.py --events 500 --senders 20 --out load.json

Runs the real `factdesk slack --http` process against the fake Slack Web API the tests use
(fakes/slack.py), so the whole path is measured: signature check, ack, duplicate
check, retrieval, answer and `chat.postMessage`. Each sender posts its share of the events one
after another, as fast as they are acknowledged, and delivers every tenth of them a second time
as Slack's retry (`X-Slack-Retry-Num: 1`), so that exactly-once delivery is tested, not assumed.
Reports acks within Slack's 3 s, answers delivered exactly once, the time from event to answer,
errors and the bot's peak resident memory.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.table import Table

import machine
from factdesk.slack.blocks import APOLOGY

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the fake Slack (fakes/), which the tests use too

from fakes.slack import BOT_TOKEN, SIGNING_SECRET, Call, FakeSlackAPI  # noqa: E402
from fakes.slack_payloads import SlackSender, app_mention, event_callback  # noqa: E402

QUESTIONS = REPO / "src" / "factdesk" / "evaluation" / "seed_questions.jsonl"
ACK_SECONDS = 3.0  # Slack re-sends an event it has not seen acknowledged within this
RETRY_EVERY = 10
START_SECONDS = 180.0
QUIET_SECONDS = 2.0  # after the last answer, how long to watch for a duplicate one


@dataclass(frozen=True)
class Delivery:
    """One POST of an event to the bot, and how the bot took it."""

    key: tuple[str, str]  # channel and ts of the question: where its answer must go
    retry: bool
    started: float
    status: int | None
    seconds: float
    error: str | None = None


def run_load(events: int, senders: int, workdir: Path) -> dict:
    """Start the bot on a fake Slack, fire `events` mentions from `senders` threads, measure.

    The bot is stopped before this returns, whatever happened.
    """
    with FakeSlackAPI() as api, bot_process(api.api_url, workdir) as (process, url):
        started = time.monotonic()
        deliveries = fire(SlackSender(url, SIGNING_SECRET), mentions(events, senders), senders)
        wait_for_answers(api, events, timeout=60 + events)
        peak_mb = peak_rss_mb(process.pid)
    log = (workdir / "factdesk.log").read_text(encoding="utf-8", errors="replace")
    posts = api.calls_to("chat.postMessage", status=None)
    return measure(deliveries, posts, log, started) | {
        "senders": senders,
        "peak_rss_mb": peak_mb,
    }


def mentions(count: int, senders: int) -> list[list[dict]]:
    """`count` `app_mention` callbacks (signed when sent), dealt out to `senders`, one channel
    each."""
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    questions = itertools.cycle(json.loads(line)["question"] for line in lines if line.strip())
    batches: list[list[dict]] = [[] for _ in range(senders)]
    for n in range(count):
        event = app_mention(next(questions), channel=f"CLOAD{n % senders:03d}")
        batches[n % senders].append(event_callback(event))
    return batches


def fire(slack: SlackSender, batches: list[list[dict]], senders: int) -> list[Delivery]:
    """Post every batch from its own thread; each event is timed from its first delivery."""

    def send_batch(batch: list[dict]) -> list[Delivery]:
        sent = []
        for n, callback in enumerate(batch):
            sent.append(deliver(slack, callback))
            if n % RETRY_EVERY == 0:
                sent.append(deliver(slack, callback, X_Slack_Retry_Num="1"))
        return sent

    with ThreadPoolExecutor(senders) as pool:
        return [delivery for sent in pool.map(send_batch, batches) for delivery in sent]


def deliver(slack: SlackSender, callback: dict, **headers: str) -> Delivery:
    event = callback["event"]
    key, retry = (event["channel"], event["ts"]), bool(headers)
    started = time.monotonic()
    try:
        reply = slack.event(callback, **headers)
    except OSError as exc:  # refused, reset or timed out: Slack would count it as not acked
        elapsed = time.monotonic() - started
        return Delivery(key, retry, started, None, elapsed, f"{type(exc).__name__}: {exc}")
    return Delivery(key, retry, started, reply.status, reply.seconds)


def wait_for_answers(api: FakeSlackAPI, expected: int, timeout: float) -> None:
    """Until `expected` answers were posted (or `timeout`), then until no call came for
    QUIET_SECONDS, so that a late duplicate is still counted."""
    deadline = time.monotonic() + timeout
    while len(api.calls_to("chat.postMessage")) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    seen = -1
    while seen != len(api.calls):
        seen = len(api.calls)
        time.sleep(QUIET_SECONDS)


def measure(deliveries: list[Delivery], posts: list[Call], log: str, started: float) -> dict:
    """The figures, from what the senders saw, what reached the fake Slack and the bot's log."""
    asked = {d.key: d.started for d in deliveries if not d.retry}
    answers: dict[tuple[str, str], list[Call]] = defaultdict(list)
    for post in posts:
        if post.status == 200:  # a rate-limited post is retried by the bot, not an answer
            answers[(post.body.get("channel"), post.body.get("thread_ts"))].append(post)
    errors = [f"{d.key}: {d.error or f'HTTP {d.status}'}" for d in deliveries if d.status != 200]
    for key, calls in answers.items():
        if key not in asked:
            errors.append(f"{key}: an answer to no question")
        errors += [f"{key}: apology posted" for c in calls if APOLOGY in c.body.get("text", "")]
    errors += [f"bot log: {line}" for line in log.splitlines() if " ERROR " in line]
    once = [key for key in asked if len(answers[key]) == 1]
    latencies = [answers[key][0].at - asked[key] for key in asked if answers[key]]
    acks = [d.seconds for d in deliveries]
    sent = max(d.started + d.seconds for d in deliveries)
    last = max((p.at for p in posts), default=started)
    return {
        "events": len(asked),
        "requests": len(deliveries),
        "acked_within_3s": sum(d.status == 200 and d.seconds < ACK_SECONDS for d in deliveries),
        "ack_median_seconds": _round(statistics.median(acks)),
        "ack_max_seconds": _round(max(acks)),
        "sending_seconds": _round(sent - started),
        "answered_exactly_once": len(once),
        "unanswered": sum(not answers[key] for key in asked),
        "answered_twice_or_more": sum(len(answers[key]) > 1 for key in asked),
        "answer_median_seconds": _round(statistics.median(latencies) if latencies else None),
        "answer_p95_seconds": _round(np.percentile(latencies, 95) if latencies else None),
        "answers_per_second": round(len(latencies) / max(last - started, 1e-9), 1),
        "errors": len(errors),
        "error_samples": errors[:20],
    }


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds), 3)


def idle_bot(workdir: Path, events: int = 20, pythonpath: str | None = None) -> dict:
    """How fast a bot is ready, and how fast an idle bot acks and answers one event at a time.

    The index in `workdir` should exist already, so that readiness measures loading, not
    indexing; `pythonpath` runs another version of factdesk (the previous path, say).
    """
    questions = [q for batch in mentions(events, 1) for q in batch]
    with FakeSlackAPI() as api:
        started = time.monotonic()
        with bot_process(api.api_url, workdir, pythonpath) as (_, url):
            ready = time.monotonic() - started
            slack = SlackSender(url, SIGNING_SECRET)
            acks, answers = [], []
            for n, callback in enumerate(questions, 1):
                delivery = deliver(slack, callback)
                api.wait_for("chat.postMessage", count=n, timeout=30)
                acks.append(delivery.seconds)
                answers.append(api.calls_to("chat.postMessage")[-1].at - delivery.started)
    return {
        "ready_seconds": _round(ready),
        "events": len(questions),
        "ack_median_seconds": _round(statistics.median(acks)),
        "ack_max_seconds": _round(max(acks)),
        "answer_median_seconds": _round(statistics.median(answers)),
        "answer_max_seconds": _round(max(answers)),
    }


@contextmanager
def bot_process(
    api_url: str, workdir: Path, pythonpath: str | None = None
) -> Iterator[tuple[subprocess.Popen, str]]:
    """`factdesk slack --http` on a free port, its index built from seeds/ in `workdir`.

    Yields the process once it is ready, and the URL Slack would post to.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTDESK_", "SLACK_"))}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env |= {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "FACTDESK_INDEX_DIR": str(workdir / "index"),
        "FACTDESK_SEEDS_DIR": str(REPO / "seeds"),
    }
    log = workdir / "factdesk.log"
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "factdesk", "slack", "--http", "--port", str(port)],
            cwd=workdir,  # no stray .env
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_ready(process, port, log)
        yield process, f"http://127.0.0.1:{port}/slack/events"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_ready(process: subprocess.Popen, port: int, log: Path) -> None:
    """Until GET /healthz answers 200 (it answers 503 while the model and index load); a bot
    from before /healthz, which listened only once loaded, is ready when it answers anything
    else. Fail with its output if it dies."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"factdesk slack exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                return
        except urllib.error.HTTPError as error:
            if error.code != 503:
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"factdesk slack was not ready within {START_SECONDS:.0f} s")


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set so far (VmHWM), while it still runs; Linux only."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return round(int(kilobytes) / 1024, 1)


def table(result: dict) -> Table:
    events, requests = result["events"], result["requests"]
    view = Table("Measure", "Value", "Beside", header_style="bold", title=_title(result))
    view.add_row(
        "Acked within 3 s",
        f"{result['acked_within_3s']}/{requests}",
        f"median {result['ack_median_seconds']} s, slowest {result['ack_max_seconds']} s; "
        f"{requests - events} were Slack-style retries",
    )
    view.add_row(
        "Answered exactly once",
        f"{result['answered_exactly_once']}/{events}",
        f"{result['unanswered']} unanswered, {result['answered_twice_or_more']} answered twice",
    )
    view.add_row(
        "Event to answer",
        f"median {result['answer_median_seconds']} s, p95 {result['answer_p95_seconds']} s",
        f"all sent within {result['sending_seconds']} s; {result['answers_per_second']} answers/s",
    )
    view.add_row("Errors", str(result["errors"]), "; ".join(result["error_samples"][:3]))
    view.add_row("Peak memory, bot", f"{result['peak_rss_mb']} MB", "VmHWM of the bot process")
    return view


def _title(result: dict) -> str:
    host = result.get("machine")
    where = f" on {host['cpu']}, {host['cores']} cores" if host else ""
    return (
        f"factdesk bot under load: {result['events']} mentions "
        f"from {result['senders']} senders{where}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500, help="mentions to send [500]")
    parser.add_argument("--senders", type=int, default=20, help="concurrent senders [20]")
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="factdesk-load-") as scratch:
        figures = run_load(args.events, args.senders, Path(scratch))
    result = {"machine": machine.describe()} | figures
    machine.publish(result, table(result), args.out)


if __name__ == "__main__":
    main()
