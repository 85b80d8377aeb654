"""The shipped reader: its files, its card, its scores, and no torch on the way."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from factdesk.reader import CONFIG_FILE, MODEL_DIR, MODEL_FILE, TOKENIZER_FILE, Reader

QUESTION = "How many Russian defense advisers are still in Venezuela?"
ANSWER = (
    "Russia’s defense conglomerate Rostec has cut its defense advisers in Venezuela from 1,000 "
    "several years ago to “just a few dozen” now, WSJ cited its source as saying."
)
OFF_TOPIC = "Tesla moved to Paris in 1882 to work for the Continental Edison Company."
ON_TOPIC_NO_ANSWER = "Rostec fulfilled its last major contract with Venezuela in March."


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


def test_the_model_ships_small_inside_the_package_with_its_card():
    assert (MODEL_DIR / MODEL_FILE).stat().st_size <= 30 * 1024 * 1024
    assert (MODEL_DIR / TOKENIZER_FILE).exists()
    config = json.loads((MODEL_DIR / CONFIG_FILE).read_text())
    assert 0 < config["threshold"] < 1 and config["version"]
    card = (MODEL_DIR / "MODEL_CARD.md").read_text()
    assert config["version"] in card and str(config["threshold"]) in card
    assert "CC BY-SA 4.0" in card and "Apache-2.0" in card


def test_the_card_reports_the_figures_the_training_run_wrote():
    config = json.loads((MODEL_DIR / CONFIG_FILE).read_text())
    card = (MODEL_DIR / "MODEL_CARD.md").read_text()
    for part in config["figures"]["test"].values():
        for system in ("reader", "baseline"):
            assert f"{part[system]['correct']:g}" in card
            assert f"{part[system]['span']:g}" in card


def test_the_sentence_that_answers_scores_above_the_threshold_and_others_below(reader):
    answer, on_topic, off_topic = reader.score(QUESTION, [ANSWER, ON_TOPIC_NO_ANSWER, OFF_TOPIC])
    assert answer >= reader.threshold > max(on_topic, off_topic)
    assert off_topic < 0.05


def test_scores_are_probabilities_whatever_the_batch(reader):
    batch = reader.score(QUESTION, [ANSWER, OFF_TOPIC, "x " * 500, ""])
    assert batch.shape == (4,) and np.all((batch >= 0) & (batch <= 1))
    alone = [reader.score(QUESTION, [text])[0] for text in (ANSWER, OFF_TOPIC)]
    # int8 dynamic quantisation scales activations per run, so pairs are read one at a time:
    # a long neighbour must not move a score (batched, it moved one by 0.014).
    assert np.allclose(batch[:2], alone, atol=1e-9)
    assert reader.score(QUESTION, []).shape == (0,)


def test_threads_can_share_one_reader(reader):
    expected = reader.score(QUESTION, [ANSWER, OFF_TOPIC])
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: reader.score(QUESTION, [ANSWER, OFF_TOPIC]), range(16)))
    assert all(np.allclose(result, expected, atol=1e-6) for result in results)


def test_reading_loads_neither_torch_nor_transformers():
    code = (
        "import sys\n"
        "from factdesk.reader import Reader\n"
        "Reader().score('Who?', ['Someone.'])\n"
        "heavy = {'torch', 'transformers', 'sentence_transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
