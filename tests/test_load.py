"""benchmarks/load.py, smaller: 24 mentions from 6 senders to a real `factdesk slack --http`.

How fast each is acknowledged is the benchmark's figure, not a bound here: a loaded machine
would break it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def load(benchmark_script):
    """The benchmark module itself, so that the test and the benchmark measure the same way."""
    return benchmark_script("load")


def test_every_event_is_acked_and_answered_exactly_once(load, tmp_path, seed_index):
    # The bot starts on tmp_path/index: seed_index puts the seed article's index there.
    result = load.run_load(events=24, senders=6, workdir=tmp_path)
    assert result["error_samples"] == []  # every delivery, retries included, got HTTP 200
    assert result["requests"] > result["events"] == 24
    assert result["answered_exactly_once"] == 24
