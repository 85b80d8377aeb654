"""benchmarks/load.py, smaller: 50 mentions from 10 senders to a real `factdesk slack --http`."""

from __future__ import annotations

import importlib

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture
def load(monkeypatch):
    """The benchmark module itself, so that the test and the benchmark measure the same way."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    return importlib.import_module("load")


def test_every_event_is_acked_in_time_and_answered_exactly_once(load, tmp_path):
    result = load.run_load(events=50, senders=10, workdir=tmp_path)
    assert result["error_samples"] == []
    assert result["acked_within_3s"] == result["requests"] > result["events"] == 50
    assert result["answered_exactly_once"] == 50
