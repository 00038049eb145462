"""Group-aware, stratified splitting with exact sizes: a pure function of codes and fractions.

Rows of one group (the same text) always land in the same split. Within each stratum the rows
are apportioned so that every split's share of every class is within one row of the exact share.

Every class reaches every split, or is named. A stratum is *too small* when its exact share of a
split is under one row (6 rows and a 0.1 holdout: 0.6 of a row), when it has fewer groups than
there are splits, or when its groups cannot be placed so that each split gets one (40 rows in
three texts of 14, 13 and 13 rows, for shares of 28, 8 and 4). A too-small stratum stops the
split (``rare="fail"``: one line naming it, its rows and the split it would miss) or goes to the
first split only (``rare="train"``; :attr:`SplitPlan.rare` lists it). Every other stratum gets at
least one row in every split: each of its shares is at least one row and the rounding keeps every
cell within one row of its share, so at least the whole part of it. No row is forced into a split
beyond that: a class whose holdout share is 0.6 of a row would get no honest holdout score from
one row, and with several such classes the forced rows could not all fit the exact split sizes.

When the strata are not the label's classes (``stratify`` names other columns, or none), pass
the label as ``classes``: a class too small to reach every split on its own counts is treated as
above; a class large enough may still miss a split by chance, since nothing balances it, and is
then listed in :attr:`SplitPlan.missing` (stratify on the label to rule that out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

from bricksml.errors import DataError

#: Shares this close below one row count as one row (float noise of ``size * fraction``).
_EPS = 1e-9


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


@dataclass(frozen=True)
class SplitPlan:
    """The outcome of :func:`plan_splits`.

    ``assignment`` holds a split index per row; ``rare`` the too-small classes sent to the first
    split only (name -> rows); ``missing`` the label classes without a row in some split, by
    chance (class -> split names; only with ``classes``).
    """

    assignment: np.ndarray
    rare: dict[str, int] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)


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
    """Return a split index (0 = first fraction) per row: :func:`plan_splits`' assignment."""
    return plan_splits(
        strata, groups, fractions, seed, stratum_names=stratum_names, rare=rare, split_names=split_names
    ).assignment


def plan_splits(
    strata: np.ndarray,
    groups: np.ndarray,
    fractions: Sequence[float],
    seed: int,
    *,
    stratum_names: Sequence[str] | None = None,
    rare: str = "fail",
    split_names: Sequence[str] | None = None,
    column: str = "",
    classes: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    class_column: str = "",
    group_word: str = "groups",
) -> SplitPlan:
    """Assign every row to a split; see the module docstring for what "too small" means.

    ``strata``, ``groups`` and ``classes`` are integer codes per row (0..k-1). A group takes the
    stratum of its first row. ``column`` and ``class_column`` name where strata and classes come
    from in messages (e.g. "label_col 'y'"); ``group_word`` what a group is ("distinct texts").
    """
    n_rows = len(strata)
    fractions = np.asarray(fractions, dtype=float)
    n_splits = len(fractions)
    split_names = list(split_names or [f"split {i}" for i in range(n_splits)])
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
    names = list(stratum_names) if stratum_names is not None else [str(i) for i in range(n_strata)]
    words = (split_names, group_word)
    forced = np.zeros(len(first_row), dtype=bool)  # groups sent to the first split only
    rare_found: dict[str, int] = {}

    if classes is not None:
        n_classes = int(classes.max()) + 1 if n_rows else 0
        class_names = list(class_names) if class_names is not None else [str(c) for c in range(n_classes)]
        rows = np.bincount(classes, minlength=n_classes)
        pairs = np.unique(groups.astype(np.int64) * n_classes + classes)
        class_groups = np.bincount(pairs % n_classes, minlength=n_classes)
        for code in np.flatnonzero(rows > 0):
            reason = _why_small(rows[code] * split_sizes / n_rows, int(class_groups[code]))
            if reason:
                if rare == "fail":
                    fraction = split_sizes[reason[1]] / n_rows
                    raise _too_small(
                        class_names[code],
                        class_column,
                        rows[code],
                        class_groups[code],
                        reason,
                        fraction,
                        *words,
                    )
                forced[np.unique(groups[classes == code])] = True
                rare_found[class_names[code]] = int(rows[code])

    order = _stratum_then_key(group_stratum, np.random.default_rng(seed).random(len(first_row)))
    bounds = np.flatnonzero(np.diff(group_stratum[order])) + 1
    too_small = np.zeros(n_strata, dtype=bool)
    while True:  # each round sets aside at least one stratum: at most n_strata rounds, mostly one
        active = ~forced & ~too_small[group_stratum]
        sizes = np.bincount(group_stratum[active], weights=group_size[active], minlength=n_strata)
        sizes = sizes.astype(np.int64)
        n_groups = np.bincount(group_stratum[active], minlength=n_strata)
        remaining = split_sizes.copy()
        remaining[0] -= n_rows - sizes.sum()
        if remaining[0] < 0 or (remaining[0] == 0 and sizes.sum()) or not sizes.sum():
            raise DataError(
                f"rare_classes=train: the classes too small to reach every split hold "
                f"{n_rows - sizes.sum()} of {n_rows} rows, too many for the {split_names[0]} split "
                f"({split_sizes[0]} rows); merge small classes or use more data"
            )
        fractions_left = remaining / remaining.sum()
        present = np.flatnonzero(sizes > 0)
        verdicts = [(s, _why_small(sizes[s] * fractions_left, int(n_groups[s]))) for s in present]
        newly = [(s, reason) for s, reason in verdicts if reason]
        group_split = np.zeros(len(first_row), dtype=np.int64)
        if not newly:
            targets = np.zeros((n_strata, n_splits), dtype=np.int64)
            targets[present] = apportion(sizes[present], remaining)
            for members in np.split(order, bounds):
                members = members[active[members]]
                if len(members):
                    group_split[members] = _fill(group_size[members], targets[group_stratum[members[0]]])
            reach = np.bincount(
                group_stratum[active] * n_splits + group_split[active], minlength=n_strata * n_splits
            ).reshape(n_strata, n_splits)
            newly = [(s, ("packing", int(np.argmin(reach[s])))) for s in present if not reach[s].all()]
            if not newly:
                break
        for s, reason in newly:
            if rare == "fail":
                fraction = fractions_left[reason[1]] if reason[0] != "groups" else 0.0
                raise _too_small(names[s], column, sizes[s], n_groups[s], reason, fraction, *words)
            too_small[s] = True

    all_sizes = np.bincount(group_stratum, weights=group_size, minlength=n_strata)
    for s in np.flatnonzero(too_small):
        rare_found[names[s]] = int(all_sizes[s])
    assignment = group_split[groups]
    missing: dict[str, list[str]] = {}
    if classes is not None:
        cells = np.bincount(classes * n_splits + assignment, minlength=n_classes * n_splits)
        cells = cells.reshape(n_classes, n_splits)
        for code in np.flatnonzero(cells.any(axis=1) & ~cells.all(axis=1)):
            if class_names[code] not in rare_found:
                missing[class_names[code]] = [split_names[i] for i in np.flatnonzero(cells[code] == 0)]
    return SplitPlan(assignment, rare_found, missing)


def _why_small(shares: np.ndarray, n_groups: int) -> tuple[str, int] | None:
    """Why a class with these shares of the splits (in rows) and groups cannot reach every split.

    ("share", split) when its share of that split is under one row; ("groups", splits) when it
    has fewer groups than splits; None when it can.
    """
    under = np.flatnonzero(shares < 1 - _EPS)
    if len(under):
        return ("share", int(under[np.argmin(shares[under])]))
    if n_groups < len(shares):
        return ("groups", len(shares))
    return None


def _too_small(
    name: str,
    column: str,
    rows: int,
    n_groups: int,
    reason: tuple[str, int],
    fraction: float,
    split_names: list[str],
    group_word: str,
) -> DataError:
    """The one line for ``rare="fail"``: the class, its rows, the split it would miss, what to do."""
    kind, where = reason
    of = f" of {column}" if column else ""
    if kind == "share":
        need = int(np.ceil(1 / fraction - _EPS))
        why = (
            f"too few to reach the {split_names[where]} split: its share there is "
            f"{rows * fraction:.2g} of a row ({fraction:.3g} of its rows; a class needs {need} rows here)"
        )
    elif kind == "groups":
        why = f"in {n_groups} {group_word}, fewer than the {where} splits (the rows of one stay in one split)"
    else:
        why = (
            f"in {n_groups} {group_word} of sizes that leave the {split_names[where]} split without one "
            "(the rows of one stay in one split)"
        )
    return DataError(
        f"rare_classes: class {name!r}{of} has {rows} rows, {why}; "
        "merge or drop it, or set rare_classes=train to keep its rows in train only"
    )


def _stratum_then_key(stratum: np.ndarray, key: np.ndarray) -> np.ndarray:
    """``np.lexsort((key, stratum))``, faster: sort the random keys, then stably by stratum.

    A stable sort of random floats is the slow part of lexsort; an unstable one gives the same
    order unless two keys are equal, which is checked (and then the stable sort is used). The
    temporaries are kept narrow (a comparison, not a difference; the strata as 16-bit integers
    before they are reordered): this runs at create_data's peak of memory.
    """
    by_key = np.argsort(key)
    ordered = key[by_key]
    if (ordered[1:] == ordered[:-1]).any():
        by_key = np.argsort(key, kind="stable")
    del ordered
    if len(stratum) and 0 <= stratum.min() and stratum.max() < 2**15:
        stratum = stratum.astype(np.int16)  # stable sort of 16-bit integers is a radix sort
    return by_key[np.argsort(stratum[by_key], kind="stable")]


def _groups(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First row and size of each group code 0..k-1."""
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    first_row = np.full(n_groups, len(groups), dtype=np.int64)
    np.minimum.at(first_row, groups, np.arange(len(groups)))
    return first_row, np.bincount(groups, minlength=n_groups)


def _fill(sizes: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Place groups (already in random order) into splits to meet ``target`` row counts.

    Multi-row groups go first, largest first, each to the split that lacks the most rows, except
    that a split still without a group takes one that fits its room (so that a class of few, large
    groups still reaches every split it can); then single rows fill what is left, in order, which
    meets the targets exactly.
    """
    out = np.empty(len(sizes), dtype=np.int64)
    big = np.flatnonzero(sizes > 1)
    big = big[np.argsort(-sizes[big], kind="stable")]
    room = target.astype(np.int64).tolist()  # plain ints: a few splits, many groups
    unreached = [r > 0 for r in room]
    reaching = any(unreached)
    splits = range(len(room))
    chosen = []
    for size in sizes[big].tolist():
        if reaching:  # only for the first few groups of a stratum: then every split has one
            fits = [s for s in splits if unreached[s] and room[s] >= size]
            split = max(fits or splits, key=room.__getitem__)
            unreached[split] = False
            reaching = any(unreached)
        else:
            split = max(splits, key=room.__getitem__)  # the first largest, as np.argmax
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
