"""Group-aware, stratified splitting with exact sizes: a pure function of codes and fractions.

Rows of one group (the same text) always land in the same split. Within each stratum the rows
are apportioned so that every split's share of every class is within one row of the exact share.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

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

    Floors the ideal table, then decides which cells round up as a maximum flow (source -> stratum
    -> split -> sink, one unit per cell with a fractional part): the fractional table is a feasible
    flow, so an integral one exists and every margin is met exactly (controlled rounding). A greedy
    fill can paint itself into a corner; the flow cannot.
    """
    stratum_sizes = np.asarray(stratum_sizes, dtype=np.int64)
    split_sizes = np.asarray(split_sizes, dtype=np.int64)
    total = stratum_sizes.sum()
    ideal = np.outer(stratum_sizes, split_sizes) / total
    table = np.floor(ideal + 1e-9).astype(np.int64)
    row_short = stratum_sizes - table.sum(axis=1)
    col_short = split_sizes - table.sum(axis=0)
    if row_short.sum() == 0:
        return table
    up = _round_up_cells(row_short, col_short, (ideal - table) > 1e-9)
    if up is None:  # float noise hid a needed cell: allow any cell, margins still exact
        up = _round_up_cells(row_short, col_short, np.ones_like(table, dtype=bool))
    assert up is not None, "margins are consistent, so a filling exists"
    return table + up


def _round_up_cells(row_short: np.ndarray, col_short: np.ndarray, allowed: np.ndarray) -> np.ndarray | None:
    """0/1 per cell so that rows and columns get exactly their shortfall, or None if impossible."""
    n_rows, n_cols = allowed.shape
    source, sink = 0, n_rows + n_cols + 1
    heads, tails, caps = [], [], []
    rows = np.flatnonzero(row_short > 0)
    heads += [source] * len(rows)
    tails += (rows + 1).tolist()
    caps += row_short[rows].tolist()
    r, c = np.nonzero(allowed & (row_short[:, None] > 0))
    heads += (r + 1).tolist()
    tails += (n_rows + 1 + c).tolist()
    caps += [1] * len(r)
    cols = np.flatnonzero(col_short > 0)
    heads += (n_rows + 1 + cols).tolist()
    tails += [sink] * len(cols)
    caps += col_short[cols].tolist()
    graph = csr_matrix(
        (np.asarray(caps, dtype=np.int32), (np.asarray(heads), np.asarray(tails))), shape=(sink + 1, sink + 1)
    )
    flow = maximum_flow(graph, source, sink)
    if flow.flow_value != row_short.sum():
        return None
    cells = flow.flow.toarray()[1 : n_rows + 1, n_rows + 1 : sink]
    return (cells > 0).astype(np.int64)


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
    order = _stratum_then_key(group_stratum, shuffle_key)
    group_split = np.empty(len(first_row), dtype=np.int64)
    bounds = np.flatnonzero(np.diff(group_stratum[order])) + 1
    for members in np.split(order, bounds):
        if len(members):
            group_split[members] = _fill(group_size[members], targets[group_stratum[members[0]]])
    return group_split[groups]


def _stratum_then_key(stratum: np.ndarray, key: np.ndarray) -> np.ndarray:
    """``np.lexsort((key, stratum))``, faster: sort the random keys, then stably by stratum.

    A stable sort of random floats is the slow part of lexsort; an unstable one gives the same
    order unless two keys are equal, which is checked (and then the stable sort is used).
    """
    by_key = np.argsort(key)
    if (np.diff(key[by_key]) == 0).any():
        by_key = np.argsort(key, kind="stable")
    small = stratum[by_key]
    if len(small) and 0 <= small.min() and small.max() < 2**15:
        small = small.astype(np.int16)  # stable sort of 16-bit integers is a radix sort
    return by_key[np.argsort(small, kind="stable")]


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
    big = np.flatnonzero(sizes > 1)
    big = big[np.argsort(-sizes[big], kind="stable")]
    room = target.astype(np.int64).tolist()  # plain ints: a few splits, many groups
    chosen = []
    for size in sizes[big].tolist():
        split = max(range(len(room)), key=room.__getitem__)  # the first largest, as np.argmax
        chosen.append(split)
        room[split] -= size
    out[big] = chosen
    left = np.asarray(room, dtype=np.int64)
    single = np.flatnonzero(sizes == 1)
    fill = np.repeat(np.arange(len(left)), np.clip(left, 0, None))
    if len(fill) < len(single):  # big groups overshot somewhere: the rest go where room is least short
        fill = np.concatenate([fill, np.full(len(single) - len(fill), int(np.argmax(left)))])
    out[single] = fill[: len(single)]
    return out
