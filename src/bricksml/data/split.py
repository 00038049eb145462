"""Group-aware, stratified splitting with exact sizes: a pure function of codes and fractions.

Rows of one group (the same text) always land in the same split. Within each stratum the rows
are apportioned so that every split's share of every class is within one row of the exact share.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bricksml.errors import DataError


def largest_remainder(total: int, weights: Sequence[float]) -> np.ndarray:
    """Whole numbers proportional to ``weights`` that add up to ``total`` exactly."""
    weights = np.asarray(weights, dtype=float)
    ideal = total * weights / weights.sum()
    counts = np.floor(ideal).astype(np.int64)
    short = total - counts.sum()
    order = np.argsort(-(ideal - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def apportion(stratum_sizes: np.ndarray, split_sizes: np.ndarray) -> np.ndarray:
    """A table of counts (strata x splits) with the given margins, each cell within 1 of ideal.

    Floors the ideal table, then hands the missing units out row by row to the splits that lack
    the most (largest fractional part first on ties): a constructive Gale-Ryser fill, always
    feasible because the fractional table is.
    """
    total = stratum_sizes.sum()
    ideal = np.outer(stratum_sizes, split_sizes) / total
    table = np.floor(ideal).astype(np.int64)
    frac = ideal - table
    row_short = stratum_sizes - table.sum(axis=1)
    col_short = split_sizes - table.sum(axis=0)
    for row in np.argsort(-row_short, kind="stable"):
        need = int(row_short[row])
        if need <= 0:
            continue
        order = np.lexsort((-frac[row], -col_short))
        chosen = order[:need]
        table[row, chosen] += 1
        col_short[chosen] -= 1
    return table


def assign_splits(
    strata: np.ndarray,
    groups: np.ndarray,
    fractions: Sequence[float],
    seed: int,
    *,
    stratum_names: Sequence[str] | None = None,
    rare: str = "fail",
    split_names: Sequence[str] | None = None,
) -> np.ndarray:
    """Return a split index (0 = first fraction) per row.

    ``strata`` and ``groups`` are integer codes per row (0..k-1). A group takes the stratum of its
    first row. ``rare='train'`` sends a stratum too small to reach every split to split 0 only.
    """
    n_rows = len(strata)
    fractions = np.asarray(fractions, dtype=float)
    split_names = list(split_names or [f"split {i}" for i in range(len(fractions))])
    split_sizes = largest_remainder(n_rows, fractions)
    for name, size, frac in zip(split_names, split_sizes, fractions, strict=True):
        if size == 0:
            raise DataError(
                f"the {name} split would be empty: {frac:g} of {n_rows} rows is under one row; "
                "use more data or a larger size"
            )

    first_row, group_size = _groups(groups)
    group_stratum = strata[first_row]
    n_strata = int(strata.max()) + 1 if n_rows else 0
    stratum_sizes = np.bincount(group_stratum, weights=group_size, minlength=n_strata).astype(np.int64)
    n_splits = len(fractions)

    rare_strata = np.flatnonzero((stratum_sizes > 0) & (stratum_sizes < n_splits))
    if len(rare_strata) and rare == "fail":
        name = stratum_names[rare_strata[0]] if stratum_names else str(rare_strata[0])
        raise DataError(
            f"stratify: class {name!r} has {stratum_sizes[rare_strata[0]]} rows, too few to appear "
            f"in all {n_splits} splits; merge or drop it, or set rare_classes=train"
        )
    regular = np.ones(n_strata, dtype=bool)
    regular[rare_strata] = False
    rare_rows = stratum_sizes * ~regular
    targets = np.zeros((n_strata, n_splits), dtype=np.int64)
    targets[~regular, 0] = rare_rows[~regular]
    remaining_sizes = split_sizes.copy()
    remaining_sizes[0] -= rare_rows.sum()
    if regular.any():
        targets[regular] = apportion(stratum_sizes[regular], remaining_sizes)

    rng = np.random.default_rng(seed)
    shuffle_key = rng.random(len(first_row))
    order = np.lexsort((shuffle_key, group_stratum))
    group_split = np.empty(len(first_row), dtype=np.int64)
    bounds = np.flatnonzero(np.diff(group_stratum[order])) + 1
    for members in np.split(order, bounds):
        if len(members):
            group_split[members] = _fill(group_size[members], targets[group_stratum[members[0]]])
    return group_split[groups]


def _groups(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First row and size of each group code 0..k-1."""
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    first_row = np.full(n_groups, len(groups), dtype=np.int64)
    np.minimum.at(first_row, groups, np.arange(len(groups)))
    return first_row, np.bincount(groups, minlength=n_groups)


def _fill(sizes: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Place groups (already in random order) into splits to meet ``target`` row counts.

    Multi-row groups go first, each to the split that lacks the most rows; then single rows
    fill what is left, in order, which meets the targets exactly.
    """
    out = np.empty(len(sizes), dtype=np.int64)
    left = target.astype(np.int64).copy()
    big = np.flatnonzero(sizes > 1)
    for i in big[np.argsort(-sizes[big], kind="stable")]:
        split = int(np.argmax(left))
        out[i] = split
        left[split] -= sizes[i]
    single = np.flatnonzero(sizes == 1)
    fill = np.repeat(np.arange(len(left)), np.clip(left, 0, None))
    if len(fill) < len(single):  # big groups overshot somewhere: the rest go where room is least short
        fill = np.concatenate([fill, np.full(len(single) - len(fill), int(np.argmax(left)))])
    out[single] = fill[: len(single)]
    return out
