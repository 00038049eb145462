"""Split invariants as properties: disjoint, complete, exact sizes, stratified, group-aware, deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bricksml.data.split import apportion, assign_splits, largest_remainder, plan_splits
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
    try:
        split = assign_splits(strata, groups, fractions, seed, rare="train")
    except DataError as exc:  # every class too small for the splits, and more rows than train holds
        assert "rare_classes=train" in str(exc) and "\n" not in str(exc)
        return
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


# -- every class reaches every split, or is named -------------------------------------------------

SPLITS = ["train", "test", "holdout"]


@st.composite
def small_classes(draw: st.DrawFn) -> tuple[np.ndarray, tuple[float, ...]]:
    fractions = draw(FRACTIONS)
    sizes = draw(st.lists(st.integers(1, 40), min_size=2, max_size=5))
    sizes[0] += 60  # one common class keeps every split non-empty
    strata = np.repeat(np.arange(len(sizes)), sizes)
    return strata[np.random.default_rng(draw(st.integers(0, 10_000))).permutation(len(strata))], fractions


@settings(max_examples=80, deadline=None)
@given(small_classes(), st.integers(0, 2**31 - 1))
def test_a_class_reaches_every_split_or_is_kept_in_train_and_named(data, seed) -> None:
    strata, fractions = data
    n = len(strata)
    plan = plan_splits(strata, np.arange(n), fractions, seed, rare="train")
    sizes = largest_remainder(n, fractions)
    assert list(np.bincount(plan.assignment, minlength=len(fractions))) == list(sizes), "exact split sizes"
    for c in np.unique(strata):
        splits = np.unique(plan.assignment[strata == c])
        if str(c) in plan.rare:
            assert list(splits) == [0] and plan.rare[str(c)] == (strata == c).sum()
        else:
            assert len(splits) == len(fractions), f"class {c} misses a split and is not named"
    rare = [str(c) for c in np.unique(strata) if ((strata == c).sum() * sizes / n < 1 - 1e-9).any()]
    assert set(rare) <= set(plan.rare), "a class whose share of a split is under one row is too small"
    if plan.rare:
        with pytest.raises(DataError, match=r"^rare_classes: class '\d' has \d+ rows"):
            plan_splits(strata, np.arange(n), fractions, seed)
    else:
        assert np.array_equal(plan_splits(strata, np.arange(n), fractions, seed).assignment, plan.assignment)


def test_a_six_row_class_with_default_fractions_is_too_small_for_holdout() -> None:
    strata = np.array([0] * 200 + [1] * 6)
    with pytest.raises(DataError) as info:
        plan_splits(
            strata, np.arange(206), (0.7, 0.2, 0.1), 0, stratum_names=["common", "vip"], split_names=SPLITS
        )
    message = str(info.value)
    assert "class 'vip' has 6 rows, too few to reach the holdout split" in message
    assert "rare_classes=train" in message and "\n" not in message
    plan = plan_splits(
        strata,
        np.arange(206),
        (0.7, 0.2, 0.1),
        0,
        stratum_names=["common", "vip"],
        rare="train",
        split_names=SPLITS,
    )
    assert plan.rare == {"vip": 6} and (plan.assignment[strata == 1] == 0).all()
    ten = np.array([0] * 200 + [1] * 10)
    plan = plan_splits(ten, np.arange(210), (0.7, 0.2, 0.1), 0)
    assert plan.rare == {} and len(np.unique(plan.assignment[ten == 1])) == 3, "10 rows reach all three"


def test_a_class_of_too_few_texts_is_too_small_whatever_its_rows() -> None:
    strata = np.array([0] * 100 + [1] * 40)
    groups = np.concatenate([np.arange(100), 100 + np.repeat([0, 1], 20)])  # 40 rows, 2 distinct texts
    with pytest.raises(
        DataError, match=r"class '1' has 40 rows, in 2 distinct texts, fewer than the 3 splits"
    ):
        plan_splits(strata, groups, (0.7, 0.2, 0.1), 0, group_word="distinct texts")
    plan = plan_splits(strata, groups, (0.7, 0.2, 0.1), 0, rare="train")
    assert plan.rare == {"1": 40} and (plan.assignment[strata == 1] == 0).all()


def test_a_class_of_few_large_texts_reaches_every_split_it_can() -> None:
    strata = np.array([0] * 200 + [1] * 40)
    groups = np.concatenate([np.arange(200), 200 + np.repeat([0, 1, 2], [36, 2, 2])])
    # shares 28 / 8 / 4 rows: the 36-row text overfills train; the two small ones still reach test
    # and holdout (a fill by most room alone put both in test)
    plan = plan_splits(strata, groups, (0.7, 0.2, 0.1), 0)
    assert plan.rare == {} and sorted(plan.assignment[200:][[0, 36, 38]]) == [0, 1, 2]


def test_groups_that_cannot_cover_the_splits_make_the_class_too_small() -> None:
    strata = np.array([0] * 200 + [1] * 40)
    groups = np.concatenate([np.arange(200), 200 + np.repeat([0, 1, 2], [14, 13, 13])])
    # shares 28 / 8 / 4: two texts go to train, the third overfills test; holdout would get 13 of 4
    with pytest.raises(
        DataError, match=r"class '1' has 40 rows, in 3 groups of sizes that leave the holdout"
    ):
        plan_splits(strata, groups, (0.7, 0.2, 0.1), 0, split_names=SPLITS)
    plan = plan_splits(strata, groups, (0.7, 0.2, 0.1), 0, rare="train", split_names=SPLITS)
    assert plan.rare == {"1": 40} and (plan.assignment[strata == 1] == 0).all()


def test_label_classes_are_checked_when_the_strata_are_other_columns() -> None:
    labels = np.array([0] * 200 + [1] * 6)
    region = np.arange(206) % 2
    with pytest.raises(
        DataError, match=r"class 'vip' of label_col 'y' has 6 rows, too few to reach the holdout"
    ):
        plan_splits(
            region,
            np.arange(206),
            (0.7, 0.2, 0.1),
            0,
            classes=labels,
            class_names=["ok", "vip"],
            class_column="label_col 'y'",
            split_names=SPLITS,
        )
    plan = plan_splits(
        region,
        np.arange(206),
        (0.7, 0.2, 0.1),
        0,
        rare="train",
        classes=labels,
        class_names=["ok", "vip"],
        split_names=SPLITS,
    )
    assert plan.rare == {"vip": 6} and (plan.assignment[labels == 1] == 0).all()
    labels = np.array([0] * 200 + [1] * 12)  # large enough, but nothing balances it across splits
    missing = [
        plan_splits(
            np.zeros(212, dtype=np.int64),
            np.arange(212),
            (0.7, 0.2, 0.1),
            s,
            classes=labels,
            class_names=["ok", "x"],
            split_names=SPLITS,
        ).missing
        for s in range(30)
    ]
    assert {"x": ["holdout"]} in missing, "a miss by chance is reported"
    assert all(m in ({}, {"x": ["test"]}, {"x": ["holdout"]}, {"x": ["test", "holdout"]}) for m in missing)
