import pytest

from factdesk.retrieval import fuse, normalise


def test_normalise_min_max():
    assert normalise({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert normalise({"a": 0.3}) == {"a": 1.0}
    assert normalise({}) == {}


def test_fuse_weights_each_side_and_missing_side_counts_zero():
    fused = fuse({"a": 0.9, "b": 0.5}, {"b": 10.0, "c": 2.0}, dense_weight=0.7)
    assert fused["a"] == pytest.approx(0.7)
    assert fused["b"] == pytest.approx(0.3)
    assert fused["c"] == pytest.approx(0.0)


def test_fuse_with_one_side_only():
    assert fuse({}, {"x": 1.0, "y": 0.0}, 0.7) == pytest.approx({"x": 0.3, "y": 0.0})
    assert fuse({"x": 1.0, "y": 0.0}, {}, 1.0) == pytest.approx({"x": 1.0, "y": 0.0})
