"""Suspected leaks in a tabular data set: a feature that gives the label away, or a row id used as one.

A model trained with such a column scores superbly on test and holdout and fails on new rows (a
campaign's raised amount tells whether it succeeded; it is not known before). create_data runs
:func:`find_leaks` on the train split's rows; the training job reads the result from the manifest
(``quality.suspected_leaks``: ``column`` and ``kind`` per entry). Pure functions of a frame; no I/O.

A feature *predicts* the label when a model of that one column, fitted on one half of (at most
20,000 sampled) rows and scored on the other half, and the other way round, reaches a macro-F1 of
at least :data:`THRESHOLD` and at least :data:`MARGIN` above the majority-class baseline. The
one-column model: for text, booleans and numbers of at most :data:`CATEGORIES` distinct values,
the majority label of each value (unseen values get the overall majority); for other numbers, the
label of the nearest value (1-nearest neighbour: exact for a threshold or a few intervals, as a
shallow tree is, and at chance level on a column unrelated to the label). NumPy only, a few
milliseconds per column at 20,000 rows; at most :data:`MAX_COLUMNS` columns are checked.

A column *looks like an id* when it holds integers or text, is nearly unique (at least
:data:`ID_DISTINCT` distinct values among its non-missing ones), and is named like one (a word
id, uuid, guid, key, pk, index of its name), or follows the row order, or holds UUIDs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Macro-F1 of one column alone from which it counts as a leak.
THRESHOLD = 0.98
#: ... and by how much it must beat always predicting the most frequent class.
MARGIN = 0.2
MAX_ROWS = 20_000
MAX_COLUMNS = 200
#: Fewer rows than this give no reliable held-out score: the predictive check is skipped.
MIN_ROWS = 50
#: Numbers with at most this many distinct values are looked up like categories.
CATEGORIES = 256
ID_DISTINCT = 0.95
#: Numeric columns checked in pairs (the first ones), and the rows the pairs are scored on.
PAIR_COLUMNS = 16
PAIR_ROWS = 5_000
_ID_WORDS = {"id", "ids", "uuid", "guid", "key", "pk", "index", "idx", "rowid", "identifier"}
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_UUID = re.compile(r"^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$", re.IGNORECASE)


@dataclass(frozen=True)
class Leak:
    """One suspected leak: the column, ``predictive`` or ``id_like``, why, and the score if predictive.

    ``with_column``: the other column of a pair that predicts together (their ratio or difference).
    """

    column: str
    kind: str
    detail: str
    score: float | None = None
    with_column: str | None = None

    def to_dict(self) -> dict:
        out = {"column": self.column, "kind": self.kind, "score": self.score, "detail": self.detail}
        if self.with_column is not None:
            out["with"] = self.with_column
        return out


def find_leaks(
    frame: pd.DataFrame,
    label: str,
    features: Sequence[str],
    *,
    rows: np.ndarray | None = None,
    seed: int = 0,
    max_rows: int = MAX_ROWS,
) -> list[Leak]:
    """The suspected leaks among ``features`` (in their order), judged on ``frame``'s ``rows``.

    ``rows`` are positions (default: all rows); at most ``max_rows`` of them are sampled, in row
    order, with ``seed``: the same input gives the same answer.
    """
    columns = [c for c in features if c != label][:MAX_COLUMNS]
    positions = np.arange(len(frame)) if rows is None else np.asarray(rows)
    rng = np.random.default_rng(seed)
    if len(positions) > max_rows:
        positions = np.sort(rng.choice(positions, max_rows, replace=False))
    sample = frame[[*columns, label]].take(positions)
    codes, _ = pd.factorize(sample[label].astype("string"))
    sample = sample[codes >= 0]
    y = codes[codes >= 0].astype(np.int64)
    n_classes = int(y.max()) + 1 if len(y) else 0
    fold = np.zeros(len(y), dtype=bool)
    fold[rng.permutation(len(y))[: len(y) // 2]] = True
    scored = n_classes > 1 and len(y) >= MIN_ROWS
    baseline = _lookup_score(np.zeros(len(y), dtype=np.int64), y, fold, n_classes) if scored else 0.0

    found: dict[str, Leak] = {}
    alone: dict[str, float] = {}
    for column in columns:
        values = sample[column]
        id_like = _id_like(column, values)
        score = _score(values, y, fold, n_classes) if scored else None
        if score is not None:
            alone[column] = score
        if score is not None and _leaks(score, baseline):
            also = f"; it also looks like a row id ({id_like})" if id_like else ""
            detail = (
                f"macro-F1 {score:.3f} from this column alone on held-out train rows "
                f"(majority baseline {baseline:.3f}){also}"
            )
            found[column] = Leak(str(column), "predictive", detail, round(score, 4))
        elif id_like:
            found[column] = Leak(str(column), "id_like", id_like)
    if scored:
        for column, leak in _pair_leaks(sample, y, fold, n_classes, baseline, alone, set(found), rng).items():
            found[column] = leak
    return [found[c] for c in columns if c in found]


def _leaks(score: float, baseline: float) -> bool:
    return score >= THRESHOLD and score - baseline >= MARGIN


def _pair_leaks(
    sample: pd.DataFrame,
    y: np.ndarray,
    fold: np.ndarray,
    n_classes: int,
    baseline: float,
    alone: dict[str, float],
    taken: set[str],
    rng: np.random.Generator,
) -> dict[str, Leak]:
    """Columns that predict the label together with another one, through their ratio or difference.

    The label is often an outcome compared with a plan: a campaign succeeded when the amount it
    raised reached its goal. Neither column predicts alone (0.59 and 0.50 on such a table); their
    ratio does. Of the pair, the column that predicts better alone is named: the outcome carries
    more of the label than the plan. Numeric columns only, at most :data:`PAIR_COLUMNS` of them,
    on :data:`PAIR_ROWS` rows: about 2 ms per pair.
    """
    numeric = [
        c
        for c, values in sample.items()
        if c in alone
        and c not in taken
        and pd.api.types.is_numeric_dtype(values.dtype)
        and not pd.api.types.is_bool_dtype(values.dtype)
    ][:PAIR_COLUMNS]
    if len(numeric) < 2:
        return {}
    rows = np.sort(rng.permutation(len(y))[:PAIR_ROWS])
    y, fold = y[rows], fold[rows]
    numbers = {c: sample[c].to_numpy(dtype=float, na_value=np.nan)[rows] for c in numeric}
    found: dict[str, Leak] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for i, a in enumerate(numeric):
            for b in numeric[i + 1 :]:
                if a in found or b in found:
                    continue
                for how, combined in (
                    ("ratio", numbers[a] / numbers[b]),
                    ("difference", numbers[a] - numbers[b]),
                ):
                    combined[~np.isfinite(combined)] = np.nan
                    score = _nearest_score(combined, y, fold, n_classes)
                    if _leaks(score, baseline):
                        named, other = (a, b) if alone[a] >= alone[b] else (b, a)
                        detail = (
                            f"its {how} with {other!r} alone gives macro-F1 {score:.3f} on held-out "
                            f"train rows (majority baseline {baseline:.3f}; the column alone "
                            f"{alone[named]:.3f})"
                        )
                        found[named] = Leak(str(named), "predictive", detail, round(score, 4), str(other))
                        break
    return found


def describe(leak: dict) -> str:
    """One line for the screen: the column, what is suspect, and how to drop it at training."""
    column, kind = leak["column"], leak["kind"]
    drop = "feature_params " + json.dumps({"drop_columns": [column]})
    if kind == "predictive":
        how = "predicts" if leak.get("with") else "alone predicts"  # the detail names the other column
        return (
            f"suspected leak: column {column!r} {how} the label ({leak['detail']}); "
            f"if it is not known when predicting, drop it at training: {drop}"
        )
    return (
        f"suspected leak: column {column!r} looks like a row id ({leak['detail']}); "
        f"drop it at training: {drop}, or set id_col={column}"
    )


def failure(found: Sequence[dict]) -> str:
    """The one line of ``leaks=fail``: every suspect column, and the ways on."""
    named = ", ".join(f"{leak['column']!r} ({leak['kind'].replace('_', '-')})" for leak in found)
    drop = "feature_params " + json.dumps({"drop_columns": [leak["column"] for leak in found]})
    return (
        f"leaks: suspected leaks in the feature columns: {named}; remove them from the raw data (or make "
        f"an id column id_col), or set leaks=warn and drop them at training with {drop}"
    )


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Macro-averaged F1 over the classes present in either array (as scikit-learn's)."""
    true = np.bincount(y_true, minlength=n_classes)
    pred = np.bincount(y_pred, minlength=n_classes)
    hits = np.bincount(y_true[y_true == y_pred], minlength=n_classes)
    present = (true + pred) > 0
    return float(np.mean(2 * hits[present] / (true + pred)[present])) if present.any() else 0.0


def _score(values: pd.Series, y: np.ndarray, fold: np.ndarray, n_classes: int) -> float | None:
    """Held-out macro-F1 of the one-column model, or None for a column it cannot read."""
    numbers = None
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = values.to_numpy(dtype="datetime64[ns]")
        numbers = np.where(np.isnat(stamps), np.nan, stamps.astype(np.int64).astype(float))
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
    if numbers is not None:
        distinct = np.unique(numbers[~np.isnan(numbers)])
        if len(distinct) > CATEGORIES:
            return _nearest_score(numbers, y, fold, n_classes)
    try:
        codes, _ = pd.factorize(values, use_na_sentinel=False)
    except TypeError:  # unhashable values (lists, dicts): not a feature this check can read
        return None
    return _lookup_score(codes.astype(np.int64), y, fold, n_classes)


def _lookup_score(codes: np.ndarray, y: np.ndarray, fold: np.ndarray, n_classes: int) -> float:
    """Fit the majority label per code on one half, score on the other, both ways; the mean."""
    n_codes = int(codes.max()) + 1 if len(codes) else 1
    scores = []
    for fit in (fold, ~fold):
        table = np.bincount(codes[fit] * n_classes + y[fit], minlength=n_codes * n_classes)
        table = table.reshape(n_codes, n_classes)
        overall = int(np.bincount(y[fit], minlength=n_classes).argmax())
        guess = np.where(table.sum(axis=1) > 0, table.argmax(axis=1), overall)
        scores.append(macro_f1(y[~fit], guess[codes[~fit]], n_classes))
    return float(np.mean(scores))


def _nearest_score(numbers: np.ndarray, y: np.ndarray, fold: np.ndarray, n_classes: int) -> float:
    """As :func:`_lookup_score` with the label of the nearest fitted number (missing: their majority).

    One sort serves both halves: in sorted order, a row's nearest fitted number is the fitted
    one just before or just after it, found with running maxima and minima of positions.
    """
    missing = np.isnan(numbers)
    order = np.argsort(numbers, kind="stable")
    order = order[~missing[order]]  # NaN sorts last
    values, labels = numbers[order], y[order]
    at = np.arange(len(order))
    scores = []
    for fit in (fold, ~fold):
        test = ~fit
        overall = int(np.bincount(y[fit], minlength=n_classes).argmax())
        guess = np.full(len(y), overall, dtype=np.int64)
        fitted = fit[order]
        if fitted.any():
            before = np.maximum.accumulate(np.where(fitted, at, -1))[~fitted]
            after = np.minimum.accumulate(np.where(fitted, at, len(at))[::-1])[::-1][~fitted]
            asked = values[~fitted]
            gap_before = np.where(before >= 0, asked - values[np.maximum(before, 0)], np.inf)
            gap_after = np.where(after < len(at), values[np.minimum(after, len(at) - 1)] - asked, np.inf)
            guess[order[~fitted]] = labels[np.where(gap_before <= gap_after, before, after)]
        fit_missing = fit & missing
        if fit_missing.any():
            guess[test & missing] = int(np.bincount(y[fit_missing], minlength=n_classes).argmax())
        scores.append(macro_f1(y[test], guess[test], n_classes))
    return float(np.mean(scores))


def _id_like(column: str, values: pd.Series) -> str | None:
    """Why the column looks like a row id, or None."""
    dtype = values.dtype
    integer = pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    text = isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype)
    present = values.dropna()
    if not (integer or text) or len(present) < 2:
        return None
    if text and not all(isinstance(v, str) for v in present.iloc[:100]):
        return None
    distinct = present.nunique() / len(present)
    if distinct < ID_DISTINCT:
        return None
    reasons = []
    if {w.lower() for w in _WORDS.findall(str(column))} & _ID_WORDS:
        reasons.append("named like an id")
    if present.is_monotonic_increasing or present.is_monotonic_decreasing:
        reasons.append("in row order")
    if text and all(_UUID.match(v) for v in present.iloc[:100]):
        reasons.append("UUIDs")
    if not reasons:
        return None
    return f"{distinct:.1%} distinct values, " + ", ".join(reasons)
