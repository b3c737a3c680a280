"""cluster(): average-linkage grouping of question vectors at a cosine threshold, deterministic."""

from __future__ import annotations

import itertools

import pytest

from deflect.gaps import cluster
from deflect.testing import HashEmbedder

from .builders import INVOICE, LONELY, PASSWORD, SLACK


def groups(texts: list[str], threshold: float = 0.45) -> list[list[str]]:
    vectors = HashEmbedder().embed(texts)
    return [[texts[i] for i in g] for g in cluster(texts, vectors, threshold)]


def test_paraphrases_group_and_unrelated_questions_stay_apart() -> None:
    texts = [PASSWORD[0], INVOICE[0], LONELY, PASSWORD[1], SLACK[0], INVOICE[1], PASSWORD[2], SLACK[1]]

    found = groups(texts)

    assert found == [
        [PASSWORD[0], PASSWORD[1], PASSWORD[2]],  # largest first; members in input order
        [SLACK[0], SLACK[1]],  # equal sizes: the group whose first text sorts first
        [INVOICE[0], INVOICE[1]],
        [LONELY],
    ]


def test_the_result_does_not_depend_on_input_order() -> None:
    texts = [*PASSWORD, *INVOICE, *SLACK, LONELY]
    expected = {frozenset(g) for g in groups(texts)}

    for perm in itertools.islice(itertools.permutations(texts), 0, 5000, 97):
        assert {frozenset(g) for g in groups(list(perm))} == expected


def test_duplicates_merge_and_the_threshold_bounds_merging() -> None:
    texts = ["reset my password", "reset my password", "download invoice"]

    assert groups(texts, threshold=0.99) == [["reset my password", "reset my password"], ["download invoice"]]
    assert groups(texts, threshold=1.01) == [["download invoice"], ["reset my password"], ["reset my password"]]
    assert [len(g) for g in groups(texts, threshold=-1.0)] == [3]


def test_average_linkage_does_not_chain_through_one_bridge() -> None:
    # b is close to a and to c, but a and c share nothing: single linkage would glue all three together.
    a, b, c = [1.0, 0.0, 0.0], [0.7071, 0.7071, 0.0], [0.0, 1.0, 0.0]

    found = cluster(["a", "b", "c"], [a, b, c], threshold=0.6)

    assert sorted(map(len, found)) == [1, 2]


def test_empty_input_and_mismatched_lengths() -> None:
    assert cluster([], [], 0.5) == []
    with pytest.raises(ValueError, match="one vector per question"):
        cluster(["a"], [], 0.5)
