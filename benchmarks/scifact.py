"""BEIR SciFact through factdesk's own indexer and retriever, scored as BEIR scores it.

Indexes the abstracts (each title carried into every chunk) into a scratch index, runs the claims
of one split through the Retriever in its three modes, maps chunks back to abstracts by their best
chunk and reports nDCG@10, Recall@10, Recall@100 and MRR@10 beside published baselines. Defaults
are tuned on `--split train` only (see benchmarks/tune.py); the test split is for reporting.

`--synthetic-dates` gives every abstract a made-up publication date (spread over ten years) and
adds two hybrid runs: with recency off, and with recency applied to every claim rather than only
to those about the current state. Dates mean nothing for SciFact's claims, so the product's
hybrid must score exactly as with recency off.

    python benchmarks/scifact.py --data ../shared/data/scifact --out results.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from rich.table import Table

import machine
from factdesk.config import Settings, load_settings
from factdesk.evaluation.metrics import mrr_at_k, ndcg_at_k, recall_at_k
from factdesk.ingest.documents import Article
from factdesk.ingest.indexer import Indexer, fingerprint
from factdesk.search.embeddings import Embedder
from factdesk.search.retrieval import Hit, Retriever, asks_about_now
from factdesk.search.store import Store

REPO = Path(__file__).resolve().parents[1]

SYSTEMS = ("keyword", "dense", "hybrid")  # the Retriever's modes, each side alone first
# With --synthetic-dates: (name, mode, recency on every claim, setting overrides).
DATED_SYSTEMS = (
    ("hybrid, recency off", "hybrid", False, {"recency_weight": 0.0}),
    ("hybrid, recency on every claim", "hybrid", True, {}),
)
FIRST_DATE, DATE_SPAN_DAYS = date(2015, 1, 1), 3653
DOC_DEPTH = 100  # abstracts per query, for Recall@100
CHUNK_DEPTH = 300  # chunks retrieved per query: abstracts have several, so 100 needs more
SHALLOW_CUTOFF = 10  # metrics cut at 10 or less are read from a run at the product's depth
DOC_PREFIX = "scifact:"
METRICS: dict[str, tuple[Callable, int]] = {
    "ndcg@10": (ndcg_at_k, 10),
    "recall@10": (recall_at_k, 10),
    "recall@100": (recall_at_k, 100),
    "mrr@10": (mrr_at_k, 10),
}
# Test split, from the data's README.md (nDCG@10, Recall@100).
PUBLISHED = {
    "BM25, BEIR paper (Elasticsearch)": {"ndcg@10": 0.665, "recall@100": 0.908},
    "BM25, Anserini flat": {"ndcg@10": 0.679, "recall@100": 0.925},
    "all-MiniLM-L6-v2, MTEB (whole abstracts)": {"ndcg@10": 0.645, "recall@100": 0.925},
}


@dataclass(frozen=True)
class Dataset:
    """The abstracts, the claims of one split and their relevance judgements."""

    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]  # id -> claim, only the claims judged in the split
    qrels: dict[str, dict[str, int]]


def load(
    data: Path, split: str = "test", limit_docs: int | None = None, limit_queries: int | None = None
) -> Dataset:
    """Read a BEIR folder; with limits, the first claims and every abstract they need, topped up.

    A slice keeps each kept claim's relevant abstracts, so its scores stay meaningful.
    """
    qrels = _read_qrels(data / "qrels" / f"{split}.tsv")
    if limit_queries is not None:
        qrels = dict(list(qrels.items())[:limit_queries])
    queries = {
        qid: text for qid, text in _read_jsonl(data / "queries.jsonl", "text") if qid in qrels
    }
    needed = {doc for judged in qrels.values() for doc in judged}
    corpus = {}
    for doc_id, (title, text) in _read_jsonl(data / "corpus.jsonl", "title", "text"):
        if limit_docs is None or doc_id in needed or len(corpus) < limit_docs:
            corpus[doc_id] = (title, text)
    return Dataset(corpus, queries, qrels)


def _read_jsonl(path: Path, *fields: str):
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                values = tuple(record[name] for name in fields)
                yield str(record["_id"]), values[0] if len(values) == 1 else values


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """query-id, corpus-id, score per line after a header; the files have CRLF line endings."""
    qrels: dict[str, dict[str, int]] = {}
    rows = path.read_text(encoding="utf-8").splitlines()[1:]
    for row in rows:
        if row.strip():
            query, doc, grade = row.strip().split("\t")
            qrels.setdefault(query, {})[doc] = int(grade)
    return qrels


def articles(corpus: dict[str, tuple[str, str]], dated: bool = False) -> list[Article]:
    """Abstracts as factdesk articles, with their own titles so every chunk carries the title."""
    return [
        Article(
            doc_id=f"{DOC_PREFIX}{doc_id}",
            source=f"scifact/{doc_id}",
            title=title,
            text=text,
            has_own_title=bool(title.strip()),
            published=synthetic_date(doc_id) if dated else None,
        )
        for doc_id, (title, text) in corpus.items()
    ]


def synthetic_date(doc_id: str) -> str:
    """A made-up date for an abstract, the same on every run."""
    offset = int(hashlib.sha1(doc_id.encode()).hexdigest(), 16) % DATE_SPAN_DAYS
    return (FIRST_DATE + timedelta(days=offset)).isoformat()


def scratch_settings(index_dir: Path, **overrides: object) -> Settings:
    """The product's settings (environment included, `.env` not) in this checkout, whatever
    folder the benchmark runs in, pointed at a scratch index."""
    return load_settings(
        _env_file=None, home=REPO, index_dir=index_dir, collection="scifact", **overrides
    )


def build_index(
    settings: Settings, embedder: Embedder, dataset: Dataset, dated: bool = False
) -> dict[str, float]:
    """Index the abstracts with the product's Indexer; returns seconds, chunks and documents."""
    report = Indexer(settings, embedder).index_articles(
        articles(dataset.corpus, dated), progress=_progress
    )
    _progress_done()
    return {
        "index_seconds": round(report.seconds, 1),
        "chunks": report.chunks,
        "documents": len(dataset.corpus),
    }


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\rEmbedding chunks: {done:,}/{total:,}", end="", file=sys.stderr, flush=True)


def _progress_done() -> None:
    if sys.stderr.isatty():
        print(file=sys.stderr)


def embed_queries(embedder: Embedder, dataset: Dataset) -> dict[str, np.ndarray]:
    vectors = embedder.embed(list(dataset.queries.values()))
    return dict(zip(dataset.queries, vectors, strict=True))


def retriever(
    settings: Settings, mode: str, recency_everywhere: bool = False, **overrides: float
) -> Retriever:
    """The product's retriever over the scratch index, with its settings unless overridden."""
    tuned = settings.model_copy(update=overrides)
    kind = _RecencyEverywhere if recency_everywhere else Retriever
    return kind(Store(tuned, fingerprint(tuned)), tuned, mode=mode)


class _RecencyEverywhere(Retriever):
    """Recency for every claim, as if each asked about the present: what the product avoids."""

    def applies_recency(self, question: str) -> bool:
        return True


def search(
    retriever: Retriever, dataset: Dataset, vectors: dict[str, np.ndarray], depth: int
) -> dict[str, list[str]]:
    """Each claim's ranked abstracts, from its best `depth` chunks."""
    return {
        qid: documents(retriever.retrieve(text, vectors[qid], depth))
        for qid, text in dataset.queries.items()
    }


def documents(hits: Sequence[Hit]) -> list[str]:
    """Abstract ids in the order of their best chunk (first occurrence), DOC_DEPTH at most."""
    ranked = dict.fromkeys(hit.chunk.doc_id.removeprefix(DOC_PREFIX) for hit in hits)
    return list(ranked)[:DOC_DEPTH]


def score(
    shallow: dict[str, list[str]], deep: dict[str, list[str]], qrels: dict[str, dict[str, int]]
) -> dict[str, float]:
    """Each metric averaged over every judged claim (a claim with no results scores 0).

    The @10 figures come from a run at the product's own depth (a candidate pool of
    `candidates` chunks a side, as when answering a question); Recall@100 needs the deep run,
    whose larger pool shifts the hybrid's min-max normalisation a little.
    """
    figures = {}
    for name, (metric, k) in METRICS.items():
        rankings = shallow if k <= SHALLOW_CUTOFF else deep
        values = (metric(rankings.get(query, []), judged, k) for query, judged in qrels.items())
        figures[name] = round(statistics.fmean(values), 4)
    return figures


def run(
    data: Path, split: str, limit_docs: int | None, limit_queries: int | None, dated: bool = False
) -> dict:
    """Index, search in every mode and score; the result is what --out writes."""
    dataset = load(data, split, limit_docs, limit_queries)
    with tempfile.TemporaryDirectory(prefix="factdesk-scifact-") as scratch:
        settings = scratch_settings(Path(scratch))
        embedder = Embedder.from_settings(settings)
        result: dict = {
            "dataset": "BEIR SciFact",
            "split": split,
            "queries": len(dataset.queries),
            "synthetic_dates": dated,
            "claims_about_now": sum(asks_about_now(text) for text in dataset.queries.values()),
            "systems": {},
        }
        result |= build_index(settings, embedder, dataset, dated)
        vectors = embed_queries(embedder, dataset)
        variants = [(mode, mode, False, {}) for mode in SYSTEMS]
        variants += list(DATED_SYSTEMS) if dated else []
        seconds = {}
        for name, mode, everywhere, overrides in variants:
            started = time.perf_counter()
            searcher = retriever(settings, mode, everywhere, **overrides)
            shallow = search(searcher, dataset, vectors, settings.candidates)
            deep = search(searcher, dataset, vectors, CHUNK_DEPTH)
            seconds[name] = round(time.perf_counter() - started, 1)
            result["systems"][name] = score(shallow, deep, dataset.qrels)
    result["search_seconds"] = seconds
    result["settings"] = _recorded(settings)
    result["published"] = PUBLISHED
    result["machine"] = machine.describe()
    return result


def _recorded(settings: Settings) -> dict[str, object]:
    names = (
        "chunk_tokens",
        "chunk_overlap_tokens",
        "dense_weight",
        "bm25_k1",
        "bm25_b",
        "candidates",
        "recency_half_life_days",
        "recency_weight",
    )
    recorded: dict[str, object] = {name: getattr(settings, name) for name in names}
    recorded["model"] = fingerprint(settings).model
    recorded["chunks_retrieved_for_recall@100"] = CHUNK_DEPTH
    return recorded


def table(result: dict) -> Table:
    """Our three systems, then the published baselines (which report fewer figures)."""
    title = (
        f"SciFact {result['split']}: {result['queries']} claims, {result['documents']:,} abstracts"
    )
    view = Table(*("System", *(name for name in METRICS)), title=title, header_style="bold")
    for system, figures in result["systems"].items():
        view.add_row(f"factdesk {system}", *(f"{figures[name]:.3f}" for name in METRICS))
    for system, figures in result["published"].items():
        cells = (f"{figures[name]:.3f}" if name in figures else "—" for name in METRICS)
        view.add_row(system, *cells, style="dim")
    return view


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="BEIR SciFact folder")
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    parser.add_argument("--split", choices=("test", "train"), default="test")
    parser.add_argument("--limit-docs", type=int, help="abstracts to index (a slice, for tests)")
    parser.add_argument("--limit-queries", type=int, help="claims to run (a slice, for tests)")
    parser.add_argument(
        "--synthetic-dates", action="store_true", help="date the abstracts; compare recency"
    )
    args = parser.parse_args(argv)
    if not (args.data / "corpus.jsonl").is_file():
        parser.error(f"no corpus.jsonl in {args.data}")
    result = run(args.data, args.split, args.limit_docs, args.limit_queries, args.synthetic_dates)
    machine.publish(result, table(result), args.out)
    print(f"Indexed {result['chunks']:,} chunks in {result['index_seconds']} s.")


if __name__ == "__main__":
    main()
