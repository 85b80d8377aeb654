"""Load on `factdesk serve`: concurrent clients asking the JSON API for a fixed time, over
loopback, beside `factdesk ask --json` run as a command once per question.

    python benchmarks/api_load.py --clients 16 --seconds 60 --out benchmarks/results/api_load.json

Starts the real `factdesk serve` process, with a bearer token as a server beyond loopback runs,
on an index of seeds/ in a scratch folder. Each client thread POSTs /v1/ask with the seed
questions in turn, the next as soon as the last is answered, until the time is up. Reports the
answers per second, the time per answer (median, p95, slowest), errors (any reply but a 200
answer, and ERROR or Traceback lines in the server's log), the server's peak resident memory,
and whether SIGTERM stopped it cleanly (exit status 0). Beside it, the time a script took before
the API: `factdesk ask --json QUESTION`, a new process per question, `--cli-runs` times.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from rich.table import Table

import machine
from load import free_port, peak_rss_mb

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = REPO / "src" / "factdesk" / "evaluation" / "seed_questions.jsonl"
START_SECONDS = 180.0
STOP_SECONDS = 60.0


@dataclass(frozen=True)
class Asked:
    """One question and how the server took it."""

    seconds: float
    status: int | None
    error: str | None = None


def questions() -> list[str]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def run_server_load(
    workdir: Path, clients: int, seconds: float, concurrency: int | None = None
) -> dict:
    """Start `factdesk serve` on `workdir/index` (indexed from seeds/ first when empty), with
    FACTDESK_API_CONCURRENCY at `concurrency` (None: its default), ask from `clients` threads
    for `seconds`, stop it with SIGTERM; the figures."""
    token = secrets.token_urlsafe(32)
    settings = {"FACTDESK_API_CONCURRENCY": str(concurrency)} if concurrency else {}
    with serve_process(workdir, token, settings) as server:
        started = time.monotonic()
        asked = fire(server.url, token, clients, seconds)
        elapsed = time.monotonic() - started
        peak_mb = peak_rss_mb(server.process.pid)
    log = (workdir / "factdesk.log").read_text(encoding="utf-8", errors="replace")
    return measure(asked, elapsed) | {
        "clients": clients,
        "seconds": seconds,
        "concurrency": concurrency,
        "peak_rss_mb": peak_mb,
        "exit_status": server.exit_status,
        "log_errors": [
            line for line in log.splitlines() if " ERROR " in line or "Traceback" in line
        ],
        "token_in_log": token in log,
    }


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    exit_status: int | None = None


@contextmanager
def serve_process(
    workdir: Path, token: str, settings: dict[str, str] | None = None
) -> Iterator[Server]:
    """`factdesk serve` on a free loopback port, asking for `token`, with other `settings`
    (environment variables); stopped with SIGTERM on the way out, its exit status kept."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTDESK_", "SLACK_"))}
    env |= {
        "FACTDESK_INDEX_DIR": str(workdir / "index"),
        "FACTDESK_SEEDS_DIR": str(REPO / "seeds"),
        "FACTDESK_API_TOKENS": token,
        **(settings or {}),
    }
    log = workdir / "factdesk.log"
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "factdesk", "serve", "--port", str(port)],
            cwd=workdir,  # no stray .env
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}")
    try:
        wait_until_ready(process, server.url, log)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            server.exit_status = process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_ready(process: subprocess.Popen, url: str, log: Path) -> None:
    """Until /healthz answers 200; fail with the server's output if it exits first."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"factdesk serve exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"factdesk serve was not ready within {START_SECONDS:.0f} s")


def fire(url: str, token: str, clients: int, seconds: float) -> list[Asked]:
    """Each client asks the seed questions in turn (each client from its own place in the list),
    one at a time, until `seconds` have passed."""
    pool = questions()
    deadline = time.monotonic() + seconds
    asked: list[Asked] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        turn = itertools.islice(itertools.cycle(pool), number * 7, None)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            while time.monotonic() < deadline:
                one = ask(http, next(turn))
                with lock:
                    asked.append(one)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return asked


def ask(http: httpx.Client, question: str) -> Asked:
    started = time.monotonic()
    try:
        reply = http.post("/v1/ask", json={"question": question})
    except httpx.HTTPError as exc:
        return Asked(time.monotonic() - started, None, f"{type(exc).__name__}: {exc}")
    seconds = time.monotonic() - started
    if reply.status_code != 200 or "answered" not in reply.json():
        return Asked(seconds, reply.status_code, reply.text[:200])
    return Asked(seconds, 200)


def measure(asked: list[Asked], elapsed: float) -> dict:
    times = [a.seconds for a in asked if a.status == 200]
    errors = [a.error or f"HTTP {a.status}" for a in asked if a.status != 200]
    return {
        "requests": len(asked),
        "answers": len(times),
        "answers_per_second": round(len(times) / elapsed, 2) if elapsed else None,
        "median_seconds": _round(statistics.median(times) if times else None),
        "p95_seconds": _round(np.percentile(times, 95) if times else None),
        "max_seconds": _round(max(times) if times else None),
        "errors": len(errors),
        "error_samples": errors[:20],
    }


def cli_per_question(workdir: Path, runs: int) -> dict:
    """`factdesk ask --json QUESTION` as a script ran it before the API: a new process, which
    loads the model and opens the index, for each question."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTDESK_", "SLACK_"))}
    env |= {"FACTDESK_INDEX_DIR": str(workdir / "index"), "FACTDESK_SEEDS_DIR": str(REPO / "seeds")}
    times = []
    for question in questions()[:runs]:
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "factdesk", "ask", "--json", question],
            cwd=workdir,
            env=env,
            check=True,
            capture_output=True,
        )
        times.append(time.monotonic() - started)
    return {
        "runs": len(times),
        "median_seconds": _round(statistics.median(times) if times else None),
        "max_seconds": _round(max(times) if times else None),
    }


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds), 3)


def table(result: dict) -> Table:
    host = result.get("machine")
    where = f" on {host['cpu']}, {host['cores']} cores" if host else ""
    title = (
        f"factdesk serve under load: {result['clients']} clients for {result['seconds']:g} s{where}"
    )
    view = Table("Measure", "Value", "Beside", header_style="bold", title=title)
    view.add_row(
        "Throughput",
        f"{result['answers_per_second']} answers/s",
        f"{result['answers']} answers to {result['requests']} requests",
    )
    view.add_row(
        "Time per answer",
        f"median {result['median_seconds']} s, p95 {result['p95_seconds']} s",
        f"slowest {result['max_seconds']} s; the whole round trip, queueing included",
    )
    cli = result.get("cli") or {}
    if cli.get("runs"):
        view.add_row(
            "factdesk ask --json, per call",
            f"median {cli['median_seconds']} s",
            f"a new process per question ({cli['runs']} runs, slowest {cli['max_seconds']} s)",
        )
    samples = "; ".join(result["error_samples"][:3] + result["log_errors"][:2])
    view.add_row("Errors", str(result["errors"] + len(result["log_errors"])), samples)
    view.add_row("Peak memory, server", f"{result['peak_rss_mb']} MB", "VmHWM of the process")
    view.add_row("Stopped by SIGTERM", f"exit status {result['exit_status']}", "")
    return view


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients [16]")
    parser.add_argument("--seconds", type=float, default=60, help="how long they ask [60]")
    parser.add_argument("--cli-runs", type=int, default=5, help="`factdesk ask` runs [5]")
    parser.add_argument(
        "--concurrency", type=int, help="FACTDESK_API_CONCURRENCY for the server [its default]"
    )
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="factdesk-api-load-") as scratch:
        figures = run_server_load(Path(scratch), args.clients, args.seconds, args.concurrency)
        figures["cli"] = cli_per_question(Path(scratch), args.cli_runs)
    result = {"machine": machine.describe()} | figures
    machine.publish(result, table(result), args.out)


if __name__ == "__main__":
    main()
