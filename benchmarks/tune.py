"""Tuning factdesk's retrieval defaults on SciFact's train claims (never on the test claims).

For each chunk size it indexes the corpus once and fetches every claim's dense and keyword
candidates once per BM25 setting, through the product's Retriever. It then replays the product's
fusion (`retrieval.fuse`, exactly what the hybrid Retriever does) for each dense weight and
candidate-pool size, beside reciprocal-rank fusion, and scores nDCG@10 on the train split.

    python benchmarks/tune.py --data ../shared/data/scifact --out tune.json
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from rich.table import Table

import machine
import scifact
from factdesk.config import load_settings
from factdesk.evaluation.metrics import ndcg_at_k
from factdesk.search.embeddings import Embedder
from factdesk.search.retrieval import Hit, fuse

CHUNKINGS = ((128, 32), (200, 48), (250, 64))  # chunk tokens, overlap (about a quarter)
BM25 = ((0.9, 0.4), (1.2, 0.75))  # Anserini's defaults, then the textbook ones
WEIGHTS = (0.5, 0.6, 0.7, 0.8)
POOLS = (50, 100, 300)  # candidates each side contributes; 50 is the product's default
RRF_K = 60  # the constant of Cormack et al. (2009)

Candidates = dict[str, dict[str, float]]  # claim id -> chunk id -> raw score of one side
Fusion = Callable[[dict[str, float], dict[str, float]], dict[str, float]]


def candidates(hits_by_claim: dict[str, list[Hit]], side: str) -> Candidates:
    """Each claim's candidates with that side's raw score (cosine or BM25), best first."""
    return {
        claim: {hit.chunk.id: getattr(hit, side) for hit in hits}
        for claim, hits in hits_by_claim.items()
    }


def top(scores: dict[str, float], pool: int) -> dict[str, float]:
    """The first `pool` candidates (the dicts are built best first)."""
    return dict(list(scores.items())[:pool])


def rrf(dense: dict[str, float], keyword: dict[str, float]) -> dict[str, float]:
    """Reciprocal-rank fusion: the sum over both sides of 1 / (RRF_K + rank)."""
    fused: dict[str, float] = {}
    for side in (dense, keyword):
        for position, key in enumerate(side, 1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + position)
    return fused


def ndcg(
    dense: Candidates,
    keyword: Candidates,
    fusion: Fusion,
    pool: int,
    chunk_docs: dict[str, str],
    qrels: dict[str, dict[str, int]],
) -> float:
    """Mean nDCG@10 of a fusion over the claims, ranking chunks as the Retriever does."""
    values = []
    for claim, judged in qrels.items():
        fused = fusion(top(dense[claim], pool), top(keyword[claim], pool))
        ranked = sorted(fused, key=lambda key: (-fused[key], key))
        docs = list(dict.fromkeys(chunk_docs[key] for key in ranked))
        values.append(ndcg_at_k(docs, judged, 10))
    return round(statistics.fmean(values), 4)


def tune_chunking(
    embedder: Embedder,
    dataset: scifact.Dataset,
    vectors: dict[str, np.ndarray],
    chunking: tuple[int, int],
) -> dict:
    """Index once with this chunking, then score every fusion setting on the train claims."""
    tokens, overlap = chunking
    with tempfile.TemporaryDirectory(prefix="factdesk-tune-") as scratch:
        settings = scifact.scratch_settings(
            Path(scratch), chunk_tokens=tokens, chunk_overlap_tokens=overlap
        )
        result = scifact.build_index(settings, embedder, dataset)
        depth = max(POOLS)
        dense_hits = _search(
            scifact.retriever(settings, "dense", candidates=depth), dataset, vectors, depth
        )
        keyword_hits = {
            (k1, b): _search(
                scifact.retriever(settings, "keyword", candidates=depth, bm25_k1=k1, bm25_b=b),
                dataset,
                vectors,
                depth,
            )
            for k1, b in BM25
        }
    chunk_docs = {
        hit.chunk.id: hit.chunk.doc_id.removeprefix(scifact.DOC_PREFIX)
        for hits_by_claim in (dense_hits, *keyword_hits.values())
        for hits in hits_by_claim.values()
        for hit in hits
    }
    dense = candidates(dense_hits, "dense")
    result["dense"] = ndcg(
        dense, _empty(dense), lambda d, k: fuse(d, k, 1.0), depth, chunk_docs, dataset.qrels
    )
    result["runs"] = []
    for (k1, b), hits in keyword_hits.items():
        keyword = candidates(hits, "keyword")
        run: dict = {"k1": k1, "b": b}
        run["keyword"] = ndcg(
            _empty(keyword), keyword, lambda d, k: fuse(d, k, 0.0), depth, chunk_docs, dataset.qrels
        )
        for pool in POOLS:
            for weight in WEIGHTS:
                fusion = _weighted(weight)
                run[f"w{weight}/pool{pool}"] = ndcg(
                    dense, keyword, fusion, pool, chunk_docs, dataset.qrels
                )
            run[f"rrf/pool{pool}"] = ndcg(dense, keyword, rrf, pool, chunk_docs, dataset.qrels)
        result["runs"].append(run)
    return {"chunk_tokens": tokens, "chunk_overlap_tokens": overlap} | result


def _search(retriever, dataset: scifact.Dataset, vectors, depth: int) -> dict[str, list[Hit]]:
    return {
        claim: retriever.retrieve(text, vectors[claim], depth)
        for claim, text in dataset.queries.items()
    }


def _empty(like: Candidates) -> Candidates:
    return {claim: {} for claim in like}


def _weighted(weight: float) -> Fusion:
    return lambda dense, keyword: fuse(dense, keyword, weight)


def table(result: dict) -> Table:
    """One row per chunking, BM25 setting and pool; hybrid nDCG@10 per dense weight, and RRF."""
    weights = [f"w={weight}" for weight in WEIGHTS]
    view = Table(
        "chunks",
        "k1/b",
        "pool",
        "keyword",
        "dense",
        *weights,
        "RRF",
        title=f"SciFact {result['split']}: nDCG@10",
        header_style="bold",
    )
    for chunking in result["chunkings"]:
        for run in chunking["runs"]:
            for pool in POOLS:
                view.add_row(
                    f"{chunking['chunk_tokens']}/{chunking['chunk_overlap_tokens']}",
                    f"{run['k1']}/{run['b']}",
                    str(pool),
                    f"{run['keyword']:.3f}",
                    f"{chunking['dense']:.3f}",
                    *(f"{run[f'w{weight}/pool{pool}']:.3f}" for weight in WEIGHTS),
                    f"{run[f'rrf/pool{pool}']:.3f}",
                )
    return view


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="BEIR SciFact folder")
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    parser.add_argument("--limit-docs", type=int, help="abstracts to index (a slice, for trials)")
    parser.add_argument("--limit-queries", type=int, help="claims to run (a slice, for trials)")
    args = parser.parse_args(argv)
    if not (args.data / "corpus.jsonl").is_file():
        parser.error(f"no corpus.jsonl in {args.data}")
    dataset = scifact.load(args.data, "train", args.limit_docs, args.limit_queries)
    settings = load_settings(_env_file=None, home=scifact.REPO)
    embedder = Embedder.from_settings(settings)
    vectors = scifact.embed_queries(embedder, dataset)
    result = {"split": "train", "queries": len(dataset.queries), "chunkings": []}
    for chunking in CHUNKINGS:
        result["chunkings"].append(tune_chunking(embedder, dataset, vectors, chunking))
    result["machine"] = machine.describe()
    machine.publish(result, table(result), args.out)


if __name__ == "__main__":
    main()
