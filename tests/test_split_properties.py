"""Split invariants as properties: disjoint, complete, exact sizes, stratified, group-aware, deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bricksml.data.split import apportion, assign_splits, largest_remainder
from bricksml.errors import DataError

FRACTIONS = st.sampled_from([(0.7, 0.2, 0.1), (0.8, 0.2), (0.5, 0.3, 0.2), (0.6, 0.25, 0.15)])


@st.composite
def labelled_rows(draw: st.DrawFn) -> tuple[np.ndarray, tuple[float, ...]]:
    fractions = draw(FRACTIONS)
    n_classes = draw(st.integers(1, 5))
    sizes = draw(st.lists(st.integers(20, 80), min_size=n_classes, max_size=n_classes))
    strata = np.repeat(np.arange(n_classes), sizes)
    order = np.random.default_rng(draw(st.integers(0, 10_000))).permutation(len(strata))
    return strata[order], fractions


@settings(max_examples=80, deadline=None)
@given(labelled_rows(), st.integers(0, 2**31 - 1))
def test_single_row_groups_split_exactly_and_stratified(data, seed) -> None:
    strata, fractions = data
    n = len(strata)
    split = assign_splits(strata, np.arange(n), fractions, seed)
    counts = np.bincount(split, minlength=len(fractions))
    assert counts.sum() == n, "every row lands in exactly one split"
    assert list(counts) == list(largest_remainder(n, fractions)), "split sizes follow the fractions"
    for c in np.unique(strata):
        share = (strata == c).sum() / n
        for s, size in enumerate(counts):
            in_cell = ((split == s) & (strata == c)).sum()
            assert abs(in_cell - size * share) <= 1, f"class {c} in split {s}: {in_cell} vs {size * share}"


@settings(max_examples=60, deadline=None)
@given(labelled_rows(), st.integers(0, 2**31 - 1), st.integers(2, 6))
def test_rows_of_one_group_never_straddle_splits(data, seed, group_width) -> None:
    strata, fractions = data
    groups = np.arange(len(strata)) // group_width  # neighbouring rows share a group
    split = assign_splits(strata, groups, fractions, seed, rare="train")
    for g in np.unique(groups):
        assert len(np.unique(split[groups == g])) == 1, f"group {g} is in two splits"


@settings(max_examples=30, deadline=None)
@given(labelled_rows(), st.integers(0, 2**31 - 1))
def test_same_seed_same_assignment(data, seed) -> None:
    strata, fractions = data
    groups = np.arange(len(strata))
    first = assign_splits(strata, groups, fractions, seed)
    again = assign_splits(strata.copy(), groups.copy(), fractions, seed)
    assert np.array_equal(first, again)


def test_another_seed_gives_another_assignment() -> None:
    strata = np.repeat([0, 1, 2], 200)
    groups = np.arange(len(strata))
    a = assign_splits(strata, groups, (0.7, 0.2, 0.1), 1)
    b = assign_splits(strata, groups, (0.7, 0.2, 0.1), 2)
    assert not np.array_equal(a, b)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(1, 500), min_size=1, max_size=8),
    st.lists(st.floats(0.05, 1.0), min_size=2, max_size=4),
)
@example([1, 1, 1, 1, 4], [1.0, 1.0, 1.0])  # a greedy fill rounds the big stratum off by one here
def test_apportion_keeps_margins_and_stays_within_one_of_ideal(strata_sizes, weights) -> None:
    rows = np.array(strata_sizes)
    cols = largest_remainder(int(rows.sum()), weights)
    table = apportion(rows, cols)
    assert (table.sum(axis=1) == rows).all()
    assert (table.sum(axis=0) == cols).all()
    ideal = np.outer(rows, cols) / rows.sum()
    assert (np.abs(table - ideal) < 1).all()


def test_too_small_class_is_named_with_its_count() -> None:
    strata = np.array([0] * 50 + [1] * 2)
    with pytest.raises(DataError, match=r"class 'rare' has 2 rows"):
        assign_splits(strata, np.arange(52), (0.7, 0.2, 0.1), 0, stratum_names=["common", "rare"])


def test_rare_classes_can_be_kept_in_train() -> None:
    strata = np.array([0] * 50 + [1] * 2)
    split = assign_splits(strata, np.arange(52), (0.7, 0.2, 0.1), 0, rare="train")
    assert (split[strata == 1] == 0).all()


def test_an_empty_split_is_refused() -> None:
    with pytest.raises(DataError, match="split would be empty"):
        assign_splits(np.zeros(3, dtype=np.int64), np.arange(3), (0.9, 0.05, 0.05), 0)
