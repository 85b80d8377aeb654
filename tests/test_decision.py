"""The decision's calibration: named features weighed as reader.json says, the first reader's
keys meaning what they always meant."""

from __future__ import annotations

import json
import math

import pytest

from factdesk.answer.calibration import Calibration
from factdesk.answer.decision import FEATURES, check_calibration
from factdesk.answer.reader import CONFIG_FILE, MODEL_DIR
from factdesk.errors import ConfigError

SHIPPED = json.loads((MODEL_DIR / CONFIG_FILE).read_text())["calibration"]


def test_the_first_readers_keys_weigh_the_margin_and_the_passage_cosine():
    """reader.json's `slope`, `passage` and `intercept` give the logistic curve they always
    gave, to the last bit."""
    calibration = Calibration.of(SHIPPED)
    for margin, cosine in [(-3.0, 0.1), (0.0, 0.5), (2.5, 0.72), (9.0, 0.9)]:
        z = SHIPPED["slope"] * margin + SHIPPED["passage"] * cosine + SHIPPED["intercept"]
        expected = 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
        assert calibration.confidence({"margin": margin, "passage_cosine": cosine}) == expected


def test_named_weights_mean_the_same_as_the_first_readers_keys():
    named = Calibration.of(
        {
            "weights": {"margin": SHIPPED["slope"], "passage_cosine": SHIPPED["passage"]},
            "intercept": SHIPPED["intercept"],
        }
    )
    features = {"margin": 1.5, "passage_cosine": 0.6}
    assert named.confidence(features) == Calibration.of(SHIPPED).confidence(features)


def test_every_feature_the_shipped_calibration_weighs_is_computed():
    check_calibration(Calibration.of(SHIPPED))
    assert set(Calibration.of(SHIPPED).weights) <= set(FEATURES)


def test_a_calibration_weighing_an_unknown_feature_is_refused_in_one_line():
    calibration = Calibration.of({"weights": {"margin": 1.0, "entropy": 2.0}})
    with pytest.raises(ConfigError, match=r"^The reader's calibration weighs 'entropy'") as error:
        check_calibration(calibration)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("config", [{"slope": "steep"}, {"weights": {"margin": None}}])
def test_an_unreadable_calibration_is_a_config_error(config):
    with pytest.raises(ConfigError, match=r"^The reader's calibration cannot be read"):
        Calibration.of(config)
