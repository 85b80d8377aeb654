"""Ranking metrics against cases worked out by hand (and matching pytrec_eval's conventions)."""

from __future__ import annotations

import math

import pytest

from factdesk.evaluation.metrics import hit_at_k, mrr_at_k, ndcg_at_k, rank, recall_at_k

LOG2_3 = math.log2(3)


def test_binary_relevance_with_one_relevant_document_not_retrieved():
    ranking, qrels = ["d1", "d2", "d3"], {"d2": 1, "d4": 1}
    # DCG = 1/log2(3); the ideal ranks both relevant documents first: 1 + 1/log2(3).
    assert ndcg_at_k(ranking, qrels, 3) == pytest.approx((1 / LOG2_3) / (1 + 1 / LOG2_3))
    assert ndcg_at_k(ranking, qrels, 3) == pytest.approx(0.386853, abs=1e-6)
    assert recall_at_k(ranking, qrels, 3) == 0.5
    assert mrr_at_k(ranking, qrels, 3) == 0.5
    assert hit_at_k(ranking, qrels, 1) == 0.0
    assert hit_at_k(ranking, qrels, 3) == 1.0


def test_graded_relevance_uses_linear_gains_like_pytrec_eval():
    ranking, qrels = ["a", "b", "c"], {"a": 1, "b": 2, "c": 0, "d": 2}
    dcg = 1 + 2 / LOG2_3
    ideal = 2 + 2 / LOG2_3 + 1 / 2  # grades 2, 2, 1 in the first three places
    assert ndcg_at_k(ranking, qrels, 3) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(ranking, qrels, 3) == pytest.approx(0.601261, abs=1e-6)
    assert recall_at_k(ranking, qrels, 3) == pytest.approx(2 / 3)


def test_tied_grades_in_the_judgements_give_a_perfect_score_in_any_order():
    qrels = {"a": 1, "b": 1, "c": 1}
    assert ndcg_at_k(["c", "a", "b"], qrels, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["b", "c", "a"], qrels, 2) == pytest.approx(1.0)


def test_tied_scores_are_ordered_like_trec_eval_highest_id_first():
    run = {"a": 0.5, "b": 0.9, "c": 0.5}
    assert rank(run) == ["b", "c", "a"]
    # Ids compare as strings, as trec_eval's docnos do: "9" sorts after "10".
    assert rank({"10": 1.0, "9": 1.0}) == ["9", "10"]


def test_tie_breaking_changes_the_score_of_a_tied_run():
    qrels = {"a": 1}
    run = {"a": 0.5, "c": 0.5}
    assert rank(run) == ["c", "a"]
    assert mrr_at_k(rank(run), qrels, 10) == 0.5
    assert ndcg_at_k(rank(run), qrels, 10) == pytest.approx(1 / LOG2_3)


def test_a_ranking_shorter_than_k_counts_missing_places_as_misses():
    qrels = {"d2": 1}
    assert ndcg_at_k(["d2"], qrels, 10) == 1.0
    assert recall_at_k(["d2"], qrels, 100) == 1.0
    assert mrr_at_k(["d2"], qrels, 10) == 1.0
    assert hit_at_k(["x"], qrels, 5) == 0.0


def test_an_empty_ranking_scores_zero():
    qrels = {"d1": 1}
    for metric in (ndcg_at_k, recall_at_k, mrr_at_k, hit_at_k):
        assert metric([], qrels, 10) == 0.0


def test_nothing_relevant_scores_zero_rather_than_dividing_by_zero():
    ranking, qrels = ["d1", "d2"], {"d1": 0, "d2": -1}
    for metric in (ndcg_at_k, recall_at_k, mrr_at_k, hit_at_k):
        assert metric(ranking, qrels, 10) == 0.0
    assert ndcg_at_k(ranking, {}, 10) == 0.0


def test_results_beyond_the_cut_do_not_count():
    ranking, qrels = ["x", "y", "d2"], {"d2": 1}
    assert mrr_at_k(ranking, qrels, 2) == 0.0
    assert mrr_at_k(ranking, qrels, 3) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, qrels, 2) == 0.0
    assert ndcg_at_k(ranking, qrels, 2) == 0.0
    assert ndcg_at_k(ranking, qrels, 3) == pytest.approx(0.5)  # 1/log2(4)


def test_ids_need_not_be_strings():
    assert mrr_at_k([3, 1, 2], {1: 1}, 3) == 0.5
    assert hit_at_k([3, 1, 2], {1: 1}, 1) == 0.0
