"""Retrieval metrics and aggregates, each checked against a value computed by hand."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pytest

from deflect.evaluation.metrics import (
    fact_recall,
    mean,
    ndcg_at_k,
    percentile,
    recall_at_k,
    reciprocal_rank,
    visible_text,
)

Metric = Callable[[Sequence[str], Sequence[str], int], float | None]
METRICS: list[Metric] = [recall_at_k, reciprocal_rank, ndcg_at_k]


@pytest.mark.parametrize("metric", METRICS)
def test_no_expected_source_is_skipped(metric: Metric) -> None:
    assert metric(["a", "b"], [], 5) is None


@pytest.mark.parametrize("metric", METRICS)
def test_expected_source_absent_scores_zero(metric: Metric) -> None:
    assert metric(["x", "y", "z"], ["a"], 5) == 0.0


@pytest.mark.parametrize("metric", METRICS)
def test_expected_source_first_scores_one(metric: Metric) -> None:
    assert metric(["a", "x", "y"], ["a"], 5) == pytest.approx(1.0)


@pytest.mark.parametrize("metric", METRICS)
def test_nothing_retrieved_scores_zero(metric: Metric) -> None:
    assert metric([], ["a"], 5) == 0.0


def test_recall_at_k_counts_a_hit_inside_the_cut_off_only() -> None:
    retrieved = ["x", "y", "a", "z"]

    assert recall_at_k(retrieved, ["a"], 2) == 0.0
    assert recall_at_k(retrieved, ["a"], 3) == 1.0
    assert recall_at_k(retrieved, ["b", "y"], 2) == 1.0  # any expected source is enough


def test_reciprocal_rank_uses_the_first_expected_source_in_ranking_order() -> None:
    assert reciprocal_rank(["x", "a", "b"], ["b", "a"]) == pytest.approx(1 / 2)
    assert reciprocal_rank(["x", "y", "z", "b"], ["b"]) == pytest.approx(1 / 4)


def test_reciprocal_rank_respects_the_cut_off() -> None:
    assert reciprocal_rank(["x", "y", "a"], ["a"], k=2) == 0.0
    assert reciprocal_rank(["x", "y", "a"], ["a"], k=3) == pytest.approx(1 / 3)


def test_ties_are_broken_by_the_order_of_the_ranking_not_in_the_metrics_favour() -> None:
    # x and a may have had the same score: only the order given counts.
    assert reciprocal_rank(["x", "a"], ["a"]) == pytest.approx(0.5)
    assert reciprocal_rank(["a", "x"], ["a"]) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "a"], ["a"]) == pytest.approx(1 / math.log2(3))


def test_ndcg_of_a_hand_computed_ranking() -> None:
    # a at rank 2, b at rank 4; ideal puts them at ranks 1 and 2.
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 / math.log2(2) + 1 / math.log2(3)

    assert ndcg_at_k(["x", "a", "y", "b"], ["a", "b"]) == pytest.approx(dcg / ideal)


def test_ndcg_counts_a_duplicate_id_once() -> None:
    # The second "a" (rank 3) earns nothing; b is still at rank 4.
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 / math.log2(2) + 1 / math.log2(3)

    assert ndcg_at_k(["x", "a", "a", "b"], ["a", "b"]) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["a", "a", "a"], ["a"]) == pytest.approx(1.0)


def test_ndcg_cut_off_limits_both_the_ranking_and_the_ideal() -> None:
    assert ndcg_at_k(["a", "b", "c"], ["a", "b", "c"], k=2) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "x", "b"], ["a", "b", "c"], k=2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["x", "y", "a"], ["a"], k=2) == 0.0


def test_duplicate_expected_ids_do_not_inflate_the_ideal() -> None:
    assert ndcg_at_k(["a"], ["a", "a"]) == pytest.approx(1.0)


def test_mean_ignores_none() -> None:
    assert mean([None, 1.0, 0.0, None, 0.5]) == pytest.approx(0.5)
    assert mean([0.25]) == pytest.approx(0.25)


@pytest.mark.parametrize("values", [[], [None], [None, None]])
def test_mean_of_nothing_defined_is_none(values: list[float | None]) -> None:
    assert mean(values) is None


def test_percentile_interpolates_linearly_between_sorted_values() -> None:
    values = [40.0, 10.0, 30.0, 20.0]  # sorted: 10, 20, 30, 40; position = 3 * q / 100

    assert percentile(values, 0) == pytest.approx(10.0)
    assert percentile(values, 50) == pytest.approx(25.0)  # position 1.5
    assert percentile(values, 90) == pytest.approx(37.0)  # position 2.7
    assert percentile(values, 100) == pytest.approx(40.0)


def test_percentile_of_one_value_is_that_value() -> None:
    assert percentile([7.0], 95) == pytest.approx(7.0)


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 50) is None


def test_a_fact_split_by_emphasis_is_found_as_a_reader_sees_it() -> None:
    answer = "Export the board as **CSV** or **JSON** from the menu. [1]"
    assert fact_recall(answer, ["CSV or JSON", "from the  menu"]) == 1.0
    assert fact_recall(answer, ["CSV or XML"]) == 0.0


def test_visible_text_drops_markup_and_keeps_code_as_written() -> None:
    text = visible_text(
        "**Heading > Part**\n\nPress `Alt`+`S`, see [the guide](https://example.test/g) or \\*not\\* "
        "_this_.\n\n```\nborg  prune --keep-daily=7\n```\n\n| key | value |\n|---|---|\n| a | `b` |"
    )
    folded = " ".join(text.split())
    assert "Heading > Part" in folded and "Alt+S" in folded and "the guide" in folded
    assert "https://example.test/g" not in folded and "*not*" in folded and "_this_" not in folded
    assert "borg  prune --keep-daily=7" in text  # code keeps its own spacing
    assert "key value a b" in folded  # a table's cells, in reading order


def test_two_blocks_stay_apart_in_the_visible_text() -> None:
    assert visible_text("First paragraph.\n\nSecond.").split() == ["First", "paragraph.", "Second."]
