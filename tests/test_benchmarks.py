"""The benchmark scripts run end to end on a small slice of SciFact, so they cannot rot.

Each runs in this process through its `main`; the processes the speed benchmark measures are
still its own.

Only the shape of their output and sanity of the figures are checked: the figures themselves
are measured by `make bench-scifact` and `make bench` and recorded in benchmarks/README.md.
Where the shared SciFact folder is absent (a CI machine without it), the scripts run on a small
made-up corpus in the same BEIR layout instead, so they are exercised either way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import REPO

SCIFACT = Path(os.environ.get("SCIFACT", REPO.parent / "shared" / "data" / "scifact"))
TOPICS = [
    "glaciers",
    "volcanoes",
    "coral",
    "tides",
    "monsoons",
    "deserts",
    "wetlands",
    "tundra",
    "savannas",
    "reefs",
    "mangroves",
    "geysers",
    "fjords",
    "dunes",
    "canyons",
    "lagoons",
    "estuaries",
    "plateaus",
    "atolls",
    "marshes",
    "prairies",
    "steppes",
    "rainforests",
    "icebergs",
    "avalanches",
    "hurricanes",
    "tornadoes",
    "droughts",
    "floods",
    "earthquakes",
    "tsunamis",
    "landslides",
    "wildfires",
    "blizzards",
    "heatwaves",
    "auroras",
    "eclipses",
    "comets",
    "meteors",
    "nebulae",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """SciFact itself when it is here, else a made-up corpus of 40 abstracts and 10 claims."""
    if (SCIFACT / "corpus.jsonl").is_file():
        return SCIFACT
    folder = tmp_path_factory.mktemp("beir")
    (folder / "qrels").mkdir()
    # Each topic has a near twin that is not relevant, so rankings are not all perfect and a
    # change of order (recency, say) shows in the figures.
    corpus = []
    for n, topic in enumerate(TOPICS):
        corpus.append({"_id": str(n), "title": f"A study of {topic}",
                       "text": f"We measured {topic} at {n + 3} sites. The {topic} changed "
                               "with the season."})  # fmt: skip
        corpus.append({"_id": f"{n}b", "title": f"A study of {topic}",
                       "text": f"We measured {topic} at {n + 5} sites. The {topic} changed "
                               "with the seasons."})  # fmt: skip
    queries = [{"_id": f"q{n}", "text": f"How do {TOPICS[n]} change?"} for n in range(10)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    qrels = "".join(f"q{n}\t{n}\t1\r\n" for n in range(10))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\r\n" + qrels)
    return folder


@pytest.fixture
def run_main(tmp_path, monkeypatch, capsys, benchmark_script):
    """Run a benchmark script's `main` here, from a scratch folder; returns what it printed."""
    monkeypatch.chdir(tmp_path)

    def run(name: str, *args: str):
        benchmark_script(name).main([str(arg) for arg in args])
        return capsys.readouterr()

    return run


def test_scifact_benchmark_with_synthetic_dates_on_a_slice(tmp_path, data, run_main):
    out = tmp_path / "results" / "scifact.json"
    printed = run_main(
        "scifact", "--data", data, "--limit-docs", "20", "--limit-queries", "5",
        "--synthetic-dates", "--out", out,
    )  # fmt: skip
    results = json.loads(out.read_text())
    systems = results["systems"]
    assert set(systems) == {
        "keyword", "dense", "hybrid", "hybrid, recency off", "hybrid, recency on every claim"
    }  # fmt: skip
    for figures in systems.values():
        assert set(figures) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
        assert all(0.0 <= value <= 1.0 for value in figures.values())
    # Each kept claim's relevant abstracts are in the slice, so a sound pipeline finds most;
    # a chunk-to-abstract mapping bug would score near zero.
    assert systems["hybrid"]["ndcg@10"] > 0.5
    assert results["queries"] == 5
    assert results["documents"] >= 20
    assert results["chunks"] >= results["documents"]
    assert results["index_seconds"] > 0
    assert results["split"] == "test"
    assert "factdesk hybrid" in printed.out
    assert "BM25, Anserini flat" in printed.out
    assert results["synthetic_dates"] and results["claims_about_now"] == 0
    assert systems["hybrid"] == systems["hybrid, recency off"]  # no claim asks about now
    assert systems["hybrid, recency on every claim"] != systems["hybrid"]  # the dates are used


def test_desks_benchmark_on_a_slice(tmp_path, data, run_main):
    out = tmp_path / "desks.json"
    printed = run_main(
        "desks", "--data", data, "--limit-docs", "12", "--limit-queries", "4", "--out", out
    )
    results = json.loads(out.read_text())
    assert set(results["designs"]) == {"collection per desk", "metadata filter"}
    assert sum(results["documents_by_desk"].values()) == results["documents"] >= 12
    for figures in results["designs"].values():
        assert figures["questions"] == 2 * results["claims"] > 0
        assert figures["citing_another_desk"] == 0
        assert 0 < figures["median_seconds"] <= figures["p90_seconds"]
        assert figures["hit@1_own_desk"] > 0.5
    assert "collection per desk" in printed.out and "An answer cited" not in printed.err


def test_speed_benchmark_on_a_slice(tmp_path, data, run_main):
    out = tmp_path / "speed.json"
    printed = run_main(
        "speed", "--data", data, "--docs", "5", "--claims", "2", "--questions", "2",
        "--cold-runs", "1", "--bot-events", "2", "--previous", "none", "--out", out,
    )  # fmt: skip
    results = json.loads(out.read_text())
    for precision in ("fp32", "int8"):
        assert results[f"index_{precision}"]["chunks_per_second"] > 0
        assert 0 <= results["ndcg@10"][precision] <= 1
    assert results["raw_model"]["chunks_per_second"] > 0
    assert set(results["warm"]) == {"reader", "pre-rank only"}
    for key in ("warm", "warm_seed"):
        assert set(results[key]) == {"reader", "pre-rank only"}
        for warm in results[key].values():
            assert warm["questions"] == 2
            assert 0 < warm["median_ms"] <= warm["p95_ms"]
    busy = results["concurrent"]
    for figures in (busy, busy["all_cores"]):
        assert figures["questions"] == 2 and figures["concurrent"] == 8 and figures["rounds"] >= 1
        assert 0 < figures["median_ms"] <= figures["p95_ms"] and figures["questions_per_second"] > 0
    assert "every run on all cores" in printed.out
    assert results["cold_seed"]["now"]["peak_rss_mb"] > 0
    assert results["bot"]["now"]["events"] == 2
    assert results["bot"]["now"]["ack_median_seconds"] > 0
    assert results["previous"] is None and "previous" not in results["cold_seed"]
    assert results["machine"]["cores"] >= 1
    assert "Cold `factdesk ask`, seed index" in printed.out


def test_the_speed_benchmark_runs_a_previous_revision(tmp_path, data, benchmark_script):
    """The comparison machinery, against this very revision: the real previous path imports
    torch, which is what the benchmark measures, not what this test checks. Its cold start and
    bot are the current path's functions, run with the revision on PYTHONPATH."""
    speed, scifact = benchmark_script("speed"), benchmark_script("scifact")
    previous = speed.extract("HEAD", tmp_path / "previous")
    assert (Path(previous) / "factdesk" / "__init__.py").is_file()
    dataset = scifact.load(data, "test", limit_docs=5, limit_queries=2)
    speed.index_previous(dataset, tmp_path / "scifact", previous)
    claims = list(dataset.queries.values())
    warm = speed.warm_previous(tmp_path / "scifact" / "index", tmp_path, previous, claims)
    assert warm["questions"] == len(claims) and 0 < warm["median_ms"] <= warm["p95_ms"]
    beside = speed._beside({"median_s": 1.0}, {"median_s": 4.0}, "median_s", lambda v: f"{v:.2f} s")
    assert beside == ["4.00 s", "0.25"]


def test_conversations_benchmark_on_a_made_up_article(tmp_path, run_main):
    squad = tmp_path / "squad"
    squad.mkdir()
    paragraphs = [
        "The Glacier Museum opened in Bergen in 1994. Its founder was Ingrid Dahl.",
        "Ingrid Dahl studied ice cores in Greenland for twenty years before she retired.",
    ]
    article = {
        "title": "Glacier_Museum",
        "paragraphs": [{"context": p, "qas": []} for p in paragraphs],
    }
    (squad / "made-up.json").write_text(json.dumps({"version": "1.1", "data": [article]}))
    conversation = {
        "id": "founder",
        "article": "Glacier_Museum",
        "turns": [
            {"question": "Who founded the Glacier Museum?", "evidence": ["Ingrid Dahl"]},
            {"question": "Where did she study ice cores?", "evidence": ["in Greenland"]},
        ],
    }
    conversations = tmp_path / "made-up.jsonl"
    conversations.write_text(json.dumps(conversation) + "\n")
    out = tmp_path / "conversations.json"
    run_main("conversations", "--data", squad, "--conversations", conversations, "--out", out)
    results = json.loads(out.read_text())
    for side in ("alone", "with_history"):
        assert results["figures"][side]["follow_ups"] == 1
        assert results["figures"][side]["first_turns_correct"] == 1.0
    assert results["machine"]["cores"] >= 1


SCRIPTS = sorted(p.name for p in (REPO / "benchmarks").glob("*.py") if "__main__" in p.read_text())


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_benchmark_script_explains_its_options(script):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
