"""Desks on SciFact: one Chroma collection per desk against one collection behind a filter.

A slice of the abstracts is split into three desks (by a hash of each abstract's id), and every
claim of the slice is asked in the desk holding its evidence, through the product's pipeline
(retrieval, reader, decline), in two designs:

- `collection per desk` (what factdesk ships): each desk has its own collection and keyword
  index, so a question only ever sees its desk's passages;
- `metadata filter`: every passage in one collection tagged with its desk, the dense side
  queried with a `where` filter and the keyword side (BM25 over every desk) cut to the desk.

Reported for each: the median and 90th percentile seconds per question (model loaded, index
warm; the designs take turns, so both see the same load), isolation (the share of answers citing
a passage of another desk: must be 0), hit@1 (the claim's own abstract cited first, so that
speed is not bought with wrong answers), and the seconds to build the keyword index that a
change to one desk makes stale (that desk's, or every desk's behind a filter).

    python benchmarks/desks.py --data ../shared/data/scifact --out benchmarks/results/desks.json
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.table import Table

import machine
import scifact
from factdesk.answer.pipeline import Pipeline
from factdesk.config import Settings
from factdesk.desks import settings_for
from factdesk.ingest.indexer import Indexer, fingerprint
from factdesk.search.embeddings import Embedder
from factdesk.search.keyword import KeywordIndex
from factdesk.search.retrieval import Retriever
from factdesk.search.store import Store
from factdesk.service import load_reader

DESKS = ("energy", "health", "politics")  # names only: abstracts are dealt by a hash of their id
COMBINED = "all-desks"


def desk_of(doc_id: str) -> str:
    return DESKS[int(hashlib.sha1(doc_id.encode()).hexdigest(), 16) % len(DESKS)]


def claims_by_desk(dataset: scifact.Dataset) -> list[tuple[str, str, set[str]]]:
    """(claim, desk, relevant abstract ids) for claims whose evidence is all on one desk."""
    found = []
    for qid, claim in dataset.queries.items():
        relevant = {doc for doc in dataset.qrels[qid] if doc in dataset.corpus}
        desks = {desk_of(doc) for doc in relevant}
        if len(desks) == 1:
            found.append((claim, desks.pop(), relevant))
    return found


class FilteredStore(Store):
    """One collection for every desk; queries see only passages tagged with `desk`."""

    def __init__(self, settings: Settings, desk: str) -> None:
        super().__init__(settings, fingerprint(settings), COMBINED)
        self.desk = desk

    def query(self, vector: np.ndarray, n: int, where: dict | None = None):
        return super().query(vector, n, {"desk": self.desk, **(where or {})})


class FilteredKeywords:
    """The one BM25 index of every desk, its results cut to one desk's passages (asked for
    more, so that enough are left after the cut)."""

    def __init__(self, index: KeywordIndex, allowed: set[str]) -> None:
        self.index, self.allowed = index, allowed
        self.size = index.size

    def __getattr__(self, name: str) -> object:  # idf and the rest: every desk's figures
        return getattr(self.index, name)

    def search(self, question: str, n: int) -> list[tuple[str, float]]:
        hits = self.index.search(question, n * len(DESKS) * 2)
        return [hit for hit in hits if hit[0] in self.allowed][:n]


class FilteredRetriever(Retriever):
    def __init__(self, store: FilteredStore, settings: Settings, keywords: FilteredKeywords):
        self._keywords = keywords
        super().__init__(store, settings)

    def refresh(self) -> None:
        self.keyword_index = self._keywords  # type: ignore[assignment]


def build(settings: Settings, embedder: Embedder, dataset: scifact.Dataset) -> dict:
    """Index each desk into its own collection, then copy every passage (vectors included)
    into one collection tagged with its desk: both designs hold the very same vectors."""
    started = time.perf_counter()
    by_desk: dict[str, list] = {desk: [] for desk in DESKS}
    for article in scifact.articles(dataset.corpus):
        by_desk[desk_of(article.doc_id.removeprefix(scifact.DOC_PREFIX))].append(article)
    chunks = 0
    combined = Store(settings, fingerprint(settings, embedder.name), COMBINED).collection
    for desk, articles in by_desk.items():
        desk_settings = settings_for(settings, desk)
        report = Indexer(desk_settings, embedder).index_articles(articles)
        chunks += report.chunks
        source = Store(desk_settings, fingerprint(desk_settings, embedder.name)).collection
        page = source.get(include=["embeddings", "documents", "metadatas"])
        for start in range(0, len(page["ids"]), 1000):
            end = start + 1000
            combined.add(
                ids=page["ids"][start:end],
                embeddings=page["embeddings"][start:end],
                documents=page["documents"][start:end],
                metadatas=[{**m, "desk": desk} for m in page["metadatas"][start:end]],
            )
    return {
        "documents": len(dataset.corpus),
        "chunks": chunks,
        "index_seconds": round(time.perf_counter() - started, 1),
        "documents_by_desk": {desk: len(articles) for desk, articles in by_desk.items()},
    }


def pipelines(settings: Settings, embedder: Embedder, design: str) -> dict[str, Pipeline]:
    reader = load_reader(settings)
    if design == "collection per desk":
        return {
            desk: Pipeline(
                settings_for(settings, desk),
                embedder,
                Retriever(
                    Store(settings_for(settings, desk), fingerprint(settings, embedder.name)),
                    settings_for(settings, desk),
                ),
                reader,
            )
            for desk in DESKS
        }
    store = Store(settings, fingerprint(settings, embedder.name), COMBINED)
    from factdesk.search.retrieval import keyword_index

    everything = keyword_index(store, settings)
    page = store.collection.get(include=["metadatas"])
    ids = {desk: set() for desk in DESKS}
    for id_, metadata in zip(page["ids"], page["metadatas"], strict=True):
        ids[str(metadata["desk"])].add(id_)
    return {
        desk: Pipeline(
            settings,
            embedder,
            FilteredRetriever(
                FilteredStore(settings, desk),
                settings,
                FilteredKeywords(everything, ids[desk]),
            ),
            reader,
        )
        for desk in DESKS
    }


DESIGNS = ("collection per desk", "metadata filter")


@dataclass
class Tally:
    seconds: list[float] = field(default_factory=list)
    leaks: int = 0
    hits: int = 0

    def figures(self, claims: int) -> dict:
        return {
            "questions": len(self.seconds),
            "median_seconds": round(statistics.median(self.seconds), 4),
            "p90_seconds": round(statistics.quantiles(self.seconds, n=10)[-1], 4),
            "citing_another_desk": self.leaks / len(self.seconds),
            "hit@1_own_desk": round(self.hits / claims, 3),
        }


def measure(
    designs: dict[str, dict[str, Pipeline]], claims: list[tuple[str, str, set[str]]]
) -> dict[str, dict]:
    """Each claim asked in its own desk, and in the next one (where its evidence is not), by
    each design in turn, first one then the other, so that both see the same load."""
    tallies = {design: Tally() for design in designs}
    for number, (claim, desk, relevant) in enumerate(claims):
        other = DESKS[(DESKS.index(desk) + 1) % len(DESKS)]
        order = list(designs) if number % 2 == 0 else list(reversed(designs))
        for design in order:
            tally = tallies[design]
            for where in (desk, other):
                started = time.perf_counter()
                answer = designs[design][where].ask(claim)
                tally.seconds.append(time.perf_counter() - started)
                cited = [c.source.removeprefix("scifact/") for c in answer.citations]
                tally.leaks += any(desk_of(doc) != where for doc in cited)
                tally.hits += where == desk and bool(cited) and cited[0] in relevant
    return {design: tally.figures(len(claims)) for design, tally in tallies.items()}


def keyword_rebuild(settings: Settings, embedder: Embedder) -> dict[str, float]:
    """Seconds to build the keyword index a change to one desk makes stale: that desk's alone,
    or, behind a filter, every desk's (median of 3)."""
    timings = {}
    stores = {
        "collection per desk": Store(
            settings_for(settings, DESKS[0]), fingerprint(settings, embedder.name)
        ),
        "metadata filter": Store(settings, fingerprint(settings, embedder.name), COMBINED),
    }
    for design, store in stores.items():
        chunks = store.chunks()
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            KeywordIndex.build([c.id for c in chunks], [c.embedding_text for c in chunks])
            runs.append(time.perf_counter() - started)
        timings[design] = round(statistics.median(runs), 3)
    return timings


def run(args: argparse.Namespace, scratch: Path) -> dict:
    dataset = scifact.load(args.data, "test", args.limit_docs, args.limit_queries)
    settings = scifact.scratch_settings(scratch)
    embedder = Embedder.from_settings(settings)
    built = build(settings, embedder, dataset)
    claims = claims_by_desk(dataset)
    designs = {design: pipelines(settings, embedder, design) for design in DESIGNS}
    for desk_pipelines in designs.values():  # warm: the first questions load what they use
        for pipeline in desk_pipelines.values():
            pipeline.ask(claims[0][0])
    result: dict = {"machine": machine.describe(), **built, "claims": len(claims)}
    result["designs"] = measure(designs, claims)
    rebuild = keyword_rebuild(settings, embedder)
    for design, seconds in rebuild.items():
        result["designs"][design]["keyword_rebuild_seconds"] = seconds
    return result


def table(result: dict) -> Table:
    grid = Table(
        title=f"Desks on SciFact: {result['documents']} abstracts, {result['chunks']} passages "
        f"in {len(DESKS)} desks, {result['claims']} claims asked in their desk and another"
    )
    columns = ("design", "median s", "p90 s", "citing another desk", "hit@1 own desk")
    for column in (*columns, "keyword index after a change, s"):
        grid.add_column(column)
    for design, figures in result["designs"].items():
        grid.add_row(
            design,
            f"{figures['median_seconds']:.3f}",
            f"{figures['p90_seconds']:.3f}",
            f"{figures['citing_another_desk']:.1%}",
            f"{figures['hit@1_own_desk']:.3f}",
            f"{figures['keyword_rebuild_seconds']:.3f}",
        )
    return grid


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="A BEIR SciFact folder.")
    parser.add_argument("--limit-docs", type=int, default=1500, help="Abstracts in the slice.")
    parser.add_argument("--limit-queries", type=int, default=100, help="Test claims kept.")
    parser.add_argument("--out", type=Path, help="Write the figures here as JSON.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="factdesk-desks-") as scratch:
        result = run(args, Path(scratch))
    machine.publish(result, table(result), args.out)
    if any(d["citing_another_desk"] for d in result["designs"].values()):
        print("An answer cited another desk's passage.", file=sys.stderr)


if __name__ == "__main__":
    main()
