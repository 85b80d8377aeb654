"""The benchmark scripts run end to end on a small slice of SciFact, so they cannot rot.

Only the shape of their output and sanity of the figures are checked: the figures themselves
are measured by `make bench-scifact` and `make bench` and recorded in benchmarks/README.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

SCIFACT = Path(os.environ.get("SCIFACT", REPO.parent / "shared" / "data" / "scifact"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (SCIFACT / "corpus.jsonl").is_file(), reason=f"SciFact not found at {SCIFACT}"
    ),
]


def run_script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / name), "--data", str(SCIFACT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_scifact_benchmark_on_a_slice(tmp_path):
    out = tmp_path / "results" / "scifact.json"
    result = run_script(
        "scifact.py", "--limit-docs", "40", "--limit-queries", "10", "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    results = json.loads(out.read_text())
    assert set(results["systems"]) == {"keyword", "dense", "hybrid"}
    for figures in results["systems"].values():
        assert set(figures) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
        assert all(0.0 <= value <= 1.0 for value in figures.values())
    # Each kept claim's relevant abstracts are in the slice, so a sound pipeline finds most;
    # a chunk-to-abstract mapping bug would score near zero.
    assert results["systems"]["hybrid"]["ndcg@10"] > 0.5
    assert results["queries"] == 10
    assert results["documents"] >= 40
    assert results["chunks"] >= results["documents"]
    assert results["index_seconds"] > 0
    assert results["split"] == "test"
    assert "factdesk hybrid" in result.stdout
    assert "BM25, Anserini flat" in result.stdout


def test_speed_benchmark_on_a_slice(tmp_path):
    out = tmp_path / "speed.json"
    result = run_script(
        "speed.py", "--docs", "20", "--questions", "3", "--cold-runs", "1", "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    results = json.loads(out.read_text())
    assert results["indexing"]["documents"] == 20
    assert results["indexing"]["chunks_per_second"] > 0
    assert results["indexing"]["model_only_chunks_per_second"] > 0
    assert set(results["warm"]) == {"threads=1", "threads=2"}
    for warm in results["warm"].values():
        assert warm["questions"] == 3
        assert 0 < warm["median_ms"] <= warm["p95_ms"]
        assert warm["peak_rss_mb"] > 0
    assert results["cold_ask"]["runs"] == 1
    assert results["cold_ask"]["peak_rss_mb"] > 0
    assert results["machine"]["cores"] >= 1
    assert "Cold `factdesk ask`" in result.stdout
