"""Speed and memory of factdesk on this machine: indexing, warm and cold questions, peak memory.

    python benchmarks/speed.py --data ../shared/data/scifact --out speed.json

Indexing throughput is the product's Indexer over SciFact abstracts, next to the embedding model
alone on the same chunks: the ceiling, since everything else the indexer does is overhead.
Everything else runs the real commands: `factdesk index` over the abstracts written as Markdown
files, warm latency from `factdesk ask --json -` (one question at a time; one process per thread
count, asked in turn so both see the same machine), cold latency from fresh `factdesk ask`
processes. Peak memory is each command's maximum resident set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.table import Table

import machine
import scifact
from factdesk.config import Settings
from factdesk.embeddings import Embedder
from factdesk.indexer import Indexer, fingerprint
from factdesk.store import Store

THREADS = (1, 2)  # FACTDESK_THREADS for the warm processes, compared side by side
COLD_RUNS = 5


def index_throughput(settings: Settings, embedder: Embedder, dataset: scifact.Dataset) -> dict:
    """Index the abstracts, then embed the same chunk texts with the model alone."""
    embedder.embed([text for _, text in list(dataset.corpus.values())[:16]])  # warm the model
    articles = scifact.articles(dataset.corpus)
    report = Indexer(settings, embedder).index_articles(articles)
    texts = [chunk.embedding_text for chunk in Store(settings, fingerprint(settings)).chunks()]
    started = time.perf_counter()
    embedder.embed(texts)
    model_seconds = time.perf_counter() - started
    return {
        "documents": len(articles),
        "chunks": report.chunks,
        "seconds": round(report.seconds, 1),
        "chunks_per_second": round(report.chunks / report.seconds, 1),
        "documents_per_second": round(len(articles) / report.seconds, 1),
        "model_only_seconds": round(model_seconds, 1),
        "model_only_chunks_per_second": round(len(texts) / model_seconds, 1),
        "share_of_ceiling": round(model_seconds / report.seconds, 3),
    }


def index_command(dataset: scifact.Dataset, folder: Path, env: dict[str, str]) -> dict:
    """Wall time and peak memory of `factdesk index` over the abstracts as Markdown files."""
    folder.mkdir()
    for doc_id, (title, text) in dataset.corpus.items():
        (folder / f"{doc_id}.md").write_text(f"# {title}\n\n{text}\n", encoding="utf-8")
    seconds, peak_mb = _run([sys.executable, "-m", "factdesk", "index", str(folder)], env, folder)
    return {"documents": len(dataset.corpus), "seconds": round(seconds, 1), "peak_rss_mb": peak_mb}


class WarmAsker:
    """A `factdesk ask --json -` process, answering one question at a time."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "factdesk", "ask", "--json", "-"],
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,  # errors go to our stderr
            text=True,
            bufsize=1,
        )

    def ask(self, question: str) -> float:
        """Seconds from sending a question to reading its answer."""
        started = time.perf_counter()
        self.process.stdin.write(question + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        seconds = time.perf_counter() - started
        if not line or "error" in json.loads(line):
            raise RuntimeError(f"factdesk ask failed on {question!r}: {line or 'no answer'}")
        return seconds

    def close(self) -> float:
        """End the process; returns its peak resident memory in MB."""
        self.process.stdin.close()
        return _reap(self.process)[1]


def warm_latency(env: dict[str, str], cwd: Path, questions: list[str]) -> dict:
    """Per-question latency of warm processes, one per thread count, asked in turn."""
    askers = {
        threads: WarmAsker(env | {"FACTDESK_THREADS": str(threads)}, cwd) for threads in THREADS
    }
    seconds: dict[int, list[float]] = {threads: [] for threads in THREADS}
    for asker in askers.values():
        asker.ask(questions[0])  # waits for the model to load; not timed
    for question in questions:
        for threads, asker in askers.items():
            seconds[threads].append(asker.ask(question))
    result = {}
    for threads, asker in askers.items():
        result[f"threads={threads}"] = _summary(seconds[threads]) | {"peak_rss_mb": asker.close()}
    return result


def cold_ask(env: dict[str, str], cwd: Path, questions: list[str]) -> dict:
    """Wall time and peak memory of `factdesk ask`, from process start to answer."""
    runs = [
        _run([sys.executable, "-m", "factdesk", "ask", "--json", q], env, cwd) for q in questions
    ]
    wall = [seconds for seconds, _ in runs]
    return {
        "runs": len(runs),
        "median_s": round(statistics.median(wall), 2),
        "min_s": round(min(wall), 2),
        "max_s": round(max(wall), 2),
        "peak_rss_mb": round(max(peak for _, peak in runs)),
    }


def _run(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Seconds to completion and peak resident memory (MB) of a command."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    error = process.stderr.read()
    status, peak_mb = _reap(process)
    if status:
        raise RuntimeError(f"{' '.join(command[2:])} failed: {error.decode()}")
    return time.perf_counter() - started, peak_mb


def _reap(process: subprocess.Popen) -> tuple[int, float]:
    """Wait for a child with wait4, which reports its peak memory.

    Linux counts the memory a child had before it exec'd, a copy of ours: the figure is only
    the command's own while this process is the smaller, so commands run before the model loads.
    """
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, round(usage.ru_maxrss / 1024)


def _summary(seconds: list[float]) -> dict:
    milliseconds = [s * 1000 for s in seconds]
    return {
        "questions": len(milliseconds),
        "median_ms": round(statistics.median(milliseconds), 1),
        "p95_ms": round(float(np.percentile(milliseconds, 95)), 1),
    }


def table(result: dict) -> Table:
    """Every figure in one table, each beside what it should be read against."""
    index, command, cold = result["indexing"], result["index_command"], result["cold_ask"]
    view = Table("Measure", "Value", "Beside", header_style="bold", title=_title(result))
    view.add_row(
        "Indexing",
        f"{index['chunks_per_second']} chunks/s, {index['documents_per_second']} docs/s",
        f"{index['documents']:,} abstracts, {index['chunks']:,} chunks in {index['seconds']} s",
    )
    view.add_row(
        "Embedding model alone",
        f"{index['model_only_chunks_per_second']} chunks/s",
        f"indexing runs at {index['share_of_ceiling']:.0%} of this ceiling",
    )
    for name, warm in result["warm"].items():
        view.add_row(
            f"Warm question, {name}",
            f"median {warm['median_ms']} ms, p95 {warm['p95_ms']} ms",
            f"{warm['questions']} questions, retrieve + answer",
        )
    view.add_row(
        "Cold `factdesk ask`",
        f"median {cold['median_s']} s",
        f"{cold['runs']} runs, {cold['min_s']}-{cold['max_s']} s, process start to answer",
    )
    warm_peaks = ", ".join(f"{w['peak_rss_mb']} MB" for w in result["warm"].values())
    view.add_row(
        "Peak memory, `factdesk ask`",
        f"{cold['peak_rss_mb']} MB",
        f"warm processes after all questions: {warm_peaks}",
    )
    view.add_row(
        "Peak memory, `factdesk index`",
        f"{command['peak_rss_mb']} MB",
        f"{command['documents']:,} abstracts in {command['seconds']} s, process start to end",
    )
    return view


def _title(result: dict) -> str:
    host = result["machine"]
    return f"factdesk speed on {host['cpu']}, {host['cores']} cores"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="BEIR SciFact folder")
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    parser.add_argument("--docs", type=int, default=500, help="abstracts to index [500]")
    parser.add_argument("--questions", type=int, default=300, help="warm questions [300]")
    parser.add_argument("--cold-runs", type=int, default=COLD_RUNS, help="cold asks [5]")
    args = parser.parse_args(argv)
    if not (args.data / "corpus.jsonl").is_file():
        parser.error(f"no corpus.jsonl in {args.data}")
    full = scifact.load(args.data, "test")
    dataset = scifact.Dataset(dict(list(full.corpus.items())[: args.docs]), {}, {})
    claims = list(full.queries.values())
    questions = (claims * (args.questions // len(claims) + 1))[: args.questions]
    with tempfile.TemporaryDirectory(prefix="factdesk-speed-") as scratch:
        folder = Path(scratch)
        env = os.environ | {"FACTDESK_INDEX_DIR": str(folder / "index")}
        result: dict = {}
        # The commands first, while this process is small (see _reap), then the model in here.
        result["index_command"] = index_command(dataset, folder / "articles", env)
        result["warm"] = warm_latency(env, folder, questions)
        result["cold_ask"] = cold_ask(env, folder, questions[: args.cold_runs])
        settings = scifact.scratch_settings(folder / "throughput")
        embedder = Embedder.from_settings(settings)
        result["indexing"] = index_throughput(settings, embedder, dataset)
    result["machine"] = machine.describe()
    machine.publish(result, table(result), args.out)


if __name__ == "__main__":
    main()
