"""The decision: its calibration (named features weighed as reader.json says, the first reader's
keys meaning what they always meant), and which of the spans that pass is quoted."""

from __future__ import annotations

import json
import math

import pytest

from factdesk.answer.calibration import Calibration
from factdesk.answer.conversation import Query
from factdesk.answer.decision import FEATURES, check_calibration, decide
from factdesk.answer.inquiry import Found, Inquiry
from factdesk.answer.reader import CONFIG_FILE, MODEL_DIR, Span
from factdesk.errors import ConfigError
from factdesk.search.passages import Chunk
from factdesk.search.retrieval import Hit

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


def _found(rank: int, margin: float) -> Found:
    """The span "answer<rank>" in the passage retrieval ranked `rank` (0 first)."""
    text = f"Passage {rank} says answer{rank}."
    chunk = Chunk(
        id=f"c{rank}", doc_id=f"d{rank}", source=f"s{rank}.txt", title="", url=None, text=text,
        start=0, end=len(text), position=0, content_hash=f"h{rank}", chunk_count=1,
    )  # fmt: skip
    start = text.index("answer")
    span = Span(rank, start, len(text) - 1, text[start:-1], margin)
    return Found(Hit(chunk, score=1.0 - rank / 10, dense=0.5, keyword=None), span)


def _quoted(margins: list[float], lower_passage_weight: float = 0.7) -> str:
    """The short answer quoted when the passages read, in retrieval order, give spans with
    these margins (the calibration: confidence = sigmoid(margin))."""
    spans = tuple(_found(rank, margin) for rank, margin in enumerate(margins))
    inquiry = Inquiry(Query.alone("Which answer?"), top_k=3, spans=spans)
    calibration = Calibration.of({"weights": {"margin": 1.0}, "intercept": 0.0})
    decision = decide(inquiry, calibration, 0.5, 0.22, lower_passage_weight).decision
    assert decision is not None and decision.answered
    return decision.spans[0].span.text


def _margin(confidence: float) -> float:
    return math.log(confidence / (1 - confidence))


def test_a_lower_passages_span_is_quoted_only_when_clearly_more_confident():
    """Retrieval's order counts as the reader's weight says: the first passage's span is quoted
    over a slightly more confident one further down, not over one far more confident."""
    first, close, clear = _margin(0.6), _margin(0.75), _margin(0.95)  # 0.75 x 0.7 < 0.6
    assert _quoted([first, close]) == "answer0"
    assert _quoted([first, _margin(0.55), clear]) == "answer2"
    # A reader fitted before the weight (1): the most confident span is quoted.
    assert _quoted([first, close], lower_passage_weight=1.0) == "answer1"
    # The decision itself is still the most confident span's.
    assert _quoted([_margin(0.3), _margin(0.7)]) == "answer1"
