"""Speed and memory of factdesk, each figure beside the previous path measured in the same run.

    python benchmarks/speed.py --data ../shared/data/scifact --out speed.json

What runs, on this machine, in one go:

- `python -c "import sentence_transformers"`: the yardstick of the cold-start target.
- Cold `factdesk ask` (process start to answer, and peak memory) on the seed index and on an
  index of all 5,183 SciFact abstracts.
- Warm questions on the SciFact index (the 300 test claims, in this process) and on the seed
  index (the seed questions): retrieval plus the reader, beside retrieval with the pre-rank
  alone; and CONCURRENT questions at once with the reader (the Slack bot's pool on 2 cores),
  beside the same with every model run on all cores (the two taking turns).
- Indexing SciFact: the product's Indexer with fp32 and with int8 embeddings (chunk vectors and
  sentence vectors), beside the raw model alone (sentence-transformers encoding the same
  chunks), and SciFact nDCG@10 with each precision.
- The Slack bot over loopback: ready time, acknowledgement and answer times when idle.

The previous path is the code at `--previous` (a git revision, default: the first round's last
commit), extracted to a scratch folder and run the same way with PYTHONPATH pointing at it: its
cold start, warm questions (on a SciFact index of its own) and bot; `--previous none` measures
this revision alone. `--docs`, `--claims`, `--questions` and `--bot-events` take a slice, for a
smoke test.
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from rich.table import Table

import load
import machine
import scifact
from factdesk.answer.pipeline import Pipeline
from factdesk.answer.reader import Reader
from factdesk.config import Settings, load_settings
from factdesk.evaluation.questions import DEFAULT_QUESTIONS, load_questions
from factdesk.search.embeddings import Embedder
from factdesk.service import NO_READER, TRAINED_READER, load_pipeline

REPO = Path(__file__).resolve().parents[1]
PREVIOUS = "571abe6"  # the first round's last commit: torch on the question path
COLD_RUNS = 5
WARM_QUESTIONS = 300
CONCURRENT = 8
# Rounds of the concurrent questions, the reader as shipped and the baseline taking turns.
ROUNDS = 3
TARGET_COLD_SHARE = 0.5  # cold ask within this share of importing sentence-transformers


def median_wall(command: list[str], env: dict[str, str], cwd: Path, runs: int) -> dict:
    """Median wall time and largest peak memory of `runs` runs of a command."""
    measured = [_run(command, env, cwd) for _ in range(runs)]
    wall = [seconds for seconds, _ in measured]
    return {
        "runs": runs,
        "median_s": round(statistics.median(wall), 3),
        "min_s": round(min(wall), 3),
        "max_s": round(max(wall), 3),
        "peak_rss_mb": round(max(peak for _, peak in measured)),
    }


def _run(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Seconds to completion and peak resident memory (MB) of a command.

    It runs under a small launcher, which times and waits for it: a process's peak memory
    includes its parent's resident memory at the moment it was started (exec records the
    hiwater mark of the memory it replaces), and this benchmark grows past 700 MB. The launcher
    starts small, so its child's peak is the command's own.
    """
    process = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, *command],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    output, error = process.communicate()
    if process.returncode:
        raise RuntimeError(f"{' '.join(command[2:])} failed: {error.decode()}")
    seconds, peak_kb = output.split()
    return float(seconds), round(int(peak_kb) / 1024)


_LAUNCHER = """
import os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(time.perf_counter() - started, usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def factdesk(*args: str) -> list[str]:
    return [sys.executable, "-m", "factdesk", *args]


def environment(index_dir: Path, pythonpath: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTDESK_", "SLACK_"))}
    env |= {"FACTDESK_INDEX_DIR": str(index_dir), "FACTDESK_SEEDS_DIR": str(REPO / "seeds")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def extract(revision: str, folder: Path) -> str:
    """The source tree at `revision`, unpacked into `folder`; returns its src/ for PYTHONPATH."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return str(folder / "src")


def cold_start(index_dir: Path, cwd: Path, pythonpath: str | None, runs: int) -> dict:
    """Cold `factdesk ask` on an index that exists (built first if not)."""
    env = environment(index_dir, pythonpath)
    if not index_dir.exists():
        subprocess.run(factdesk("index"), env=env, cwd=cwd, check=True, capture_output=True)
    return median_wall(factdesk("ask", "--json", "How many advisers remain?"), env, cwd, runs)


def import_yardstick(cwd: Path, runs: int) -> dict:
    command = [sys.executable, "-c", "import sentence_transformers"]
    return median_wall(command, environment(cwd / "none"), cwd, runs)


def index_scifact(settings: Settings, dataset: scifact.Dataset) -> tuple[Embedder, dict]:
    """Index the abstracts with the product's Indexer; figures in chunks per second."""
    embedder = Embedder.from_settings(settings)
    embedder.embed(["warm up"])
    built = scifact.build_index(settings, embedder, dataset)
    return embedder, built | {
        "chunks_per_second": round(built["chunks"] / built["index_seconds"], 1)
    }


def raw_model_speed(texts: list[str]) -> dict:
    """The previous path's model alone: sentence-transformers encoding the same chunk texts."""
    from sentence_transformers import SentenceTransformer

    from factdesk.search.embeddings import bundled_model_path

    model = SentenceTransformer(bundled_model_path(), device="cpu")
    model.max_seq_length = 256
    model.encode(texts[:32])
    started = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True)
    seconds = time.perf_counter() - started
    return {"chunks": len(texts), "chunks_per_second": round(len(texts) / seconds, 1)}


def ndcg(settings: Settings, embedder: Embedder, dataset: scifact.Dataset) -> float:
    vectors = scifact.embed_queries(embedder, dataset)
    searcher = scifact.retriever(settings, "hybrid")
    shallow = scifact.search(searcher, dataset, vectors, settings.candidates)
    return scifact.score(shallow, shallow, dataset.qrels)["ndcg@10"]


def warm(settings: Settings, embedder: Embedder, claims: list[str]) -> dict:
    """Per-question latency in this process, with the reader and with the pre-rank alone,
    asked in turn so both see the same machine."""
    services = {
        "reader": load_pipeline(settings, embedder=embedder, reader=TRAINED_READER),
        "pre-rank only": load_pipeline(settings, embedder=embedder, reader=NO_READER),
    }
    seconds: dict[str, list[float]] = {name: [] for name in services}
    for service in services.values():
        service.ask(claims[0])
    for claim in claims:
        for name, service in services.items():
            started = time.perf_counter()
            service.ask(claim)
            seconds[name].append(time.perf_counter() - started)
    return {name: _summary(values) for name, values in seconds.items()}


def concurrent(settings: Settings, embedder: Embedder, claims: list[str]) -> dict:
    """Latency of questions asked CONCURRENT at a time with the reader, as the bot's pool asks
    them, and how many were answered a second; beside it, the same with every model run on all
    cores however many questions are read at once (the reader before `busy_threads`), the two
    taking turns for ROUNDS rounds."""
    pipelines = {
        "now": load_pipeline(settings, embedder=embedder, reader=TRAINED_READER),
        "all_cores": load_pipeline(
            settings, embedder=embedder, reader=Reader(threads=settings.threads, busy_threads=None)
        ),
    }

    def timed(pipeline: Pipeline, claim: str) -> float:
        started = time.perf_counter()
        pipeline.ask(claim)
        return time.perf_counter() - started

    seconds: dict[str, list[float]] = {name: [] for name in pipelines}
    spent = dict.fromkeys(pipelines, 0.0)
    for pipeline in pipelines.values():
        pipeline.ask(claims[0])
    for _ in range(ROUNDS):
        for name, pipeline in pipelines.items():
            began = time.perf_counter()
            with ThreadPoolExecutor(CONCURRENT) as pool:
                seconds[name] += pool.map(functools.partial(timed, pipeline), claims)
            spent[name] += time.perf_counter() - began
    figures = {
        name: _summary(values)
        | {"questions": len(claims), "rounds": ROUNDS, "concurrent": CONCURRENT}
        | {"questions_per_second": round(len(values) / spent[name], 1)}
        for name, values in seconds.items()
    }
    return figures["now"] | {"all_cores": figures["all_cores"]}


def seed_questions() -> list[str]:
    return [question.text for question in load_questions(DEFAULT_QUESTIONS)]


def warm_previous(index_dir: Path, cwd: Path, pythonpath: str, claims: list[str]) -> dict:
    """The previous path's warm latency, from its `factdesk ask --json -` process."""
    env = environment(index_dir, pythonpath)
    process = subprocess.Popen(
        factdesk("ask", "--json", "-"),
        env=env,
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    seconds = []
    for n, claim in enumerate([claims[0], *claims]):
        started = time.perf_counter()
        process.stdin.write(claim.replace("\n", " ") + "\n")
        process.stdin.flush()
        if not process.stdout.readline():
            raise RuntimeError("the previous factdesk ask stopped answering")
        if n:
            seconds.append(time.perf_counter() - started)
    process.stdin.close()
    process.wait()
    return _summary(seconds)


def index_previous(dataset: scifact.Dataset, folder: Path, pythonpath: str) -> None:
    """A SciFact index built by the previous path, from the abstracts as Markdown files."""
    articles = folder / "articles"
    articles.mkdir(parents=True)
    for doc_id, (title, text) in dataset.corpus.items():
        (articles / f"{doc_id}.md").write_text(f"# {title}\n\n{text}\n", encoding="utf-8")
    env = environment(folder / "index", pythonpath)
    subprocess.run(
        factdesk("index", str(articles)), env=env, cwd=folder, check=True, capture_output=True
    )


def _summary(seconds: list[float]) -> dict:
    milliseconds = [s * 1000 for s in seconds]
    return {
        "questions": len(milliseconds),
        "median_ms": round(statistics.median(milliseconds), 1),
        "p95_ms": round(float(np.percentile(milliseconds, 95)), 1),
    }


def ratio(new: float, old: float) -> float:
    return round(new / old, 3) if old else float("nan")


def run(args: argparse.Namespace, scratch: Path) -> dict:
    dataset = scifact.load(args.data, "test", limit_docs=args.docs, limit_queries=args.claims)
    claims = list(dataset.queries.values())[: args.questions]
    compare = args.previous != "none"
    previous = extract(args.previous, scratch / "previous") if compare else None
    result: dict = {
        "previous": args.previous if compare else None,
        "abstracts": len(dataset.corpus),
    }

    # Processes first, while this one is small (a child's peak memory counts what it inherits).
    result["import_sentence_transformers"] = import_yardstick(scratch, args.cold_runs)
    result["cold_seed"] = {"now": cold_start(scratch / "seed-now", scratch, None, args.cold_runs)}
    result["bot"] = {"now": load.idle_bot(_bot_folder(scratch, "now"), args.bot_events)}
    if previous:
        result["cold_seed"]["previous"] = cold_start(
            scratch / "seed-previous", scratch, previous, args.cold_runs
        )
        result["bot"]["previous"] = load.idle_bot(
            _bot_folder(scratch, "previous"), args.bot_events, previous
        )
        index_previous(dataset, scratch / "scifact-previous", previous)
        result["warm_previous"] = warm_previous(
            scratch / "scifact-previous" / "index", scratch, previous, claims
        )
        result["warm_seed_previous"] = warm_previous(
            scratch / "seed-previous", scratch, previous, seed_questions()[: args.questions]
        )

    fp32 = scifact.scratch_settings(scratch / "scifact-fp32")
    int8 = scifact.scratch_settings(scratch / "scifact-int8", embedding_precision="int8")
    embedder, result["index_fp32"] = index_scifact(fp32, dataset)
    result["cold_scifact"] = median_wall(
        factdesk("ask", "--json", claims[0]), _scifact_env(fp32), scratch, args.cold_runs
    )
    result["warm"] = warm(fp32, embedder, claims)
    seed = load_settings(_env_file=None, home=REPO, index_dir=scratch / "seed-now")
    result["warm_seed"] = warm(seed, embedder, seed_questions()[: args.questions])
    result["concurrent"] = concurrent(fp32, embedder, claims)
    result["ndcg@10"] = {"fp32": ndcg(fp32, embedder, dataset)}
    embedder8, result["index_int8"] = index_scifact(int8, dataset)
    result["ndcg@10"]["int8"] = ndcg(int8, embedder8, dataset)
    texts = [c.embedding_text for c in scifact.retriever(fp32, "hybrid").store.chunks()]
    result["raw_model"] = raw_model_speed(texts)
    return result


def _bot_folder(scratch: Path, side: str) -> Path:
    """A folder holding a copy of the seed index the cold runs built, so the bot's start
    measures loading only."""
    folder = scratch / f"bot-{side}"
    shutil.copytree(scratch / f"seed-{side}", folder / "index")
    return folder


def _scifact_env(settings: Settings) -> dict[str, str]:
    return environment(Path(settings.index_dir)) | {"FACTDESK_COLLECTION": settings.collection}


def table(result: dict) -> Table:
    """Every figure beside the previous path's and the target it is read against."""
    view = Table(
        "Measure", "Now", "Previous path", "Now / previous", "Target", title=_title(result)
    )
    yardstick = result["import_sentence_transformers"]["median_s"]
    seed, seed_old = result["cold_seed"]["now"], result["cold_seed"].get("previous")
    view.add_row("`import sentence_transformers`", f"{yardstick:.2f} s", "", "", "the yardstick")
    view.add_row(
        "Cold `factdesk ask`, seed index",
        f"{seed['median_s']:.2f} s",
        *_beside(seed, seed_old, "median_s", lambda v: f"{v:.2f} s"),
        f"≤ {TARGET_COLD_SHARE * yardstick:.2f} s "
        f"({ratio(seed['median_s'], yardstick):.2f} × yardstick)",
    )
    view.add_row(
        "Peak memory, cold ask",
        f"{seed['peak_rss_mb']} MB",
        *_beside(seed, seed_old, "peak_rss_mb", lambda v: f"{v} MB"),
        "≤ 400 MB",
    )
    cold = result["cold_scifact"]
    view.add_row(
        f"Cold ask, SciFact index ({result['abstracts']:,} abstracts)",
        f"{cold['median_s']:.2f} s",
        "",
        f"{ratio(cold['median_s'], seed['median_s']):.2f} × seed",
        "≤ 1.20 × seed",
    )
    for key, old_key, where in (
        ("warm", "warm_previous", "SciFact"),
        ("warm_seed", "warm_seed_previous", "seed index"),
    ):
        reader, prerank = result[key]["reader"], result[key]["pre-rank only"]
        old = result.get(old_key)
        view.add_row(
            f"Warm question, {where}, reader (median / p95)",
            f"{reader['median_ms']} / {reader['p95_ms']} ms",
            f"{old['median_ms']} / {old['p95_ms']} ms" if old else "",
            f"{ratio(reader['median_ms'], old['median_ms']):.2f}" if old else "",
            "≤ 40 / 80 ms",
        )
        view.add_row(
            "  pre-rank only (median / p95)",
            f"{prerank['median_ms']} / {prerank['p95_ms']} ms",
            "",
            f"reader − pre-rank: {reader['median_ms'] - prerank['median_ms']:.1f} ms",
            "",
        )
    busy = result["concurrent"]
    view.add_row(
        f"{busy['concurrent']} questions at once, SciFact, reader (median / p95)",
        f"{busy['median_ms']} / {busy['p95_ms']} ms",
        "",
        f"{busy['questions_per_second']} questions/s",
        "p95 ≤ 300 ms",
    )
    if "all_cores" in busy:  # results written before the baseline was measured lack it
        cores = busy["all_cores"]
        view.add_row(
            "  every run on all cores (median / p95)",
            f"{cores['median_ms']} / {cores['p95_ms']} ms",
            "",
            f"{cores['questions_per_second']} questions/s; p95 "
            f"{ratio(busy['p95_ms'], cores['p95_ms'])} ×",
            "",
        )
    raw = result["raw_model"]["chunks_per_second"]
    for precision in ("fp32", "int8"):
        built = result[f"index_{precision}"]
        view.add_row(
            f"Indexing, {precision} (chunk and sentence vectors)",
            f"{built['chunks_per_second']} chunks/s",
            f"raw model {raw} chunks/s",
            f"{ratio(built['chunks_per_second'], raw):.2f}",
            "≥ 1.0" if precision == "fp32" else "≥ 1.8",
        )
    scores = result["ndcg@10"]
    view.add_row(
        "SciFact nDCG@10, hybrid (fp32 / int8)",
        f"{scores['fp32']:.3f} / {scores['int8']:.3f}",
        "0.730 (first round)",
        f"int8 − fp32 = {scores['int8'] - scores['fp32']:+.3f}",
        "fp32 ≥ 0.730",
    )
    bot, bot_old = result["bot"]["now"], result["bot"].get("previous")
    for key, label, target in (
        ("ready_seconds", "Bot ready after start", "≤ 3 s"),
        ("ack_median_seconds", "Bot acknowledgement, median", "< 0.1 s"),
        ("answer_median_seconds", "Idle bot, event to answer, median", "≤ 1 s"),
    ):
        view.add_row(
            label,
            f"{bot[key]:.3f} s",
            *_beside(bot, bot_old, key, lambda v: f"{v:.3f} s"),
            target,
        )
    return view


def _beside(now: dict, old: dict | None, key: str, show: Callable[[float], str]) -> list[str]:
    """The previous path's figure and the ratio to it, or blanks when nothing was compared."""
    return ["", ""] if old is None else [show(old[key]), f"{ratio(now[key], old[key]):.2f}"]


def _title(result: dict) -> str:
    host = result["machine"]
    return f"factdesk speed on {host['cpu']}, {host['cores']} cores"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="BEIR SciFact folder")
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    parser.add_argument(
        "--previous",
        default=PREVIOUS,
        help=f"git revision, or 'none' to measure only this one [{PREVIOUS}]",
    )
    parser.add_argument("--cold-runs", type=int, default=COLD_RUNS, help="cold runs [5]")
    parser.add_argument("--docs", type=int, help="index only this many abstracts (a slice)")
    parser.add_argument(
        "--claims", type=int, help="keep only this many SciFact claims, and their abstracts"
    )
    parser.add_argument("--questions", type=int, default=WARM_QUESTIONS, help="warm claims [300]")
    parser.add_argument("--bot-events", type=int, default=20, help="events sent to the bot [20]")
    args = parser.parse_args(argv)
    if not (args.data / "corpus.jsonl").is_file():
        parser.error(f"no corpus.jsonl in {args.data}")
    with tempfile.TemporaryDirectory(prefix="factdesk-speed-") as scratch:
        result = run(args, Path(scratch))
    result["machine"] = machine.describe()
    machine.publish(result, table(result), args.out)


if __name__ == "__main__":
    main()
