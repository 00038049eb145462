"""The label column and the task it serves: the choice under ``auto``, a regression label's checks,
statistics and the bins that stratify its splits. Pure functions of a column; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bricksml.errors import DataError
from bricksml.models.tasks import AUTO, AUTO_DISTINCT, CLASSIFICATION, REGRESSION

#: Bins the label of a regression data version is stratified on, at most.
BINS = 10
#: Non-numeric values a message quotes.
_EXAMPLES = 3
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@dataclass(frozen=True)
class TaskChoice:
    """The task a data version is made for, what was asked, and why (said in the manifest)."""

    task: str
    asked: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"task": self.task, "asked": self.asked, "reason": self.reason}


def is_numeric(values: pd.Series) -> bool:
    """Numbers (not true/false values, which are two classes)."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def as_numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The label as float64 (missing as NaN) and a mask of the values present that are no number."""
    present = values.notna().to_numpy()
    if is_numeric(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return numbers, np.zeros(len(values), dtype=bool)
    try:
        codes, uniques = pd.factorize(values)  # a label repeats few values: convert each once
    except TypeError:  # unhashable values (lists): each row as text, for the checks to name them
        codes, uniques = np.arange(len(values)), values.astype("string").to_numpy()
        codes[~present] = -1
    text = pd.Series(uniques, dtype="string").str.strip()
    blank = text.eq("").fillna(True).to_numpy(dtype=bool)
    distinct = pd.to_numeric(text.mask(text.eq(""), None), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    found = codes >= 0
    numbers = np.full(len(values), np.nan)
    numbers[found] = distinct[codes[found]]
    foreign = np.zeros(len(values), dtype=bool)
    foreign[found] = (~blank & np.isnan(distinct))[codes[found]]
    return numbers, present & foreign


def decide(values: pd.Series, asked: str, column: str) -> TaskChoice:
    """The task for this label: the one asked, or under ``auto`` the one its values show.

    ``auto`` picks regression for a numeric label with more than :data:`AUTO_DISTINCT` distinct
    values, classification otherwise. A text column whose values are numbers but for a few is
    no set of classes: it is refused, naming the values, rather than split into thousands of them.
    """
    label = f"label_col {column!r}"
    if asked == CLASSIFICATION:
        return TaskChoice(CLASSIFICATION, asked, "asked for (task=classification)")
    numbers, foreign = as_numbers(values)
    distinct = int(pd.unique(numbers[~np.isnan(numbers)]).size)
    if asked == REGRESSION:
        problem = regression_problem(values, column, numbers, foreign)
        if problem:
            raise DataError(problem)
        return TaskChoice(REGRESSION, asked, "asked for (task=regression)")
    if asked != AUTO:
        raise ValueError(f"unknown task {asked!r}")
    if not is_numeric(values):
        present = int(values.notna().sum())
        if foreign.any() and distinct > AUTO_DISTINCT and foreign.sum() <= 0.05 * present:
            raise DataError(
                f"{label} holds numbers but for {_examples(values, foreign)}: with so many distinct "
                "numbers it reads as a quantity; fix or empty those values for task=regression, or set "
                "task=classification to keep every value as a class"
            )
        return TaskChoice(CLASSIFICATION, asked, f"auto: {label} holds text, so its values are classes")
    if distinct > AUTO_DISTINCT:
        return TaskChoice(
            REGRESSION,
            asked,
            f"auto: {label} is numeric with {distinct} distinct values (more than {AUTO_DISTINCT}): "
            "a quantity to predict",
        )
    return TaskChoice(
        CLASSIFICATION,
        asked,
        f"auto: {label} is numeric with {distinct} distinct values (at most {AUTO_DISTINCT}): classes; "
        "set task=regression to predict it as a number",
    )


def regression_problem(
    values: pd.Series, column: str, numbers: np.ndarray | None = None, foreign: np.ndarray | None = None
) -> str | None:
    """Why this column cannot be a regression label (text, infinite values), as the fix; or None."""
    if numbers is None or foreign is None:
        numbers, foreign = as_numbers(values)
    label = f"label_col {column!r}"
    present = int(values.notna().sum())
    if foreign.any() and foreign.sum() == present:
        first = int(np.flatnonzero(foreign)[0])
        return (
            f"{label} holds text ({_shown(values.iloc[first])} in row {first + 1}), not numbers: "
            "task=regression needs a numeric label; use task=classification for classes"
        )
    if foreign.any():
        return (
            f"{label} holds {_examples(values, foreign)} among its numbers: a regression label must be "
            "numeric; fix or empty those values (empty labels are dropped), or use task=classification"
        )
    infinite = np.isinf(numbers)
    if infinite.any():
        first = int(np.flatnonzero(infinite)[0])
        return (
            f"{label} holds {int(infinite.sum())} infinite value(s) (row {first + 1}: {numbers[first]:g}): "
            "a regression label must be finite; fix or empty them"
        )
    return None


def _examples(values: pd.Series, mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask)
    shown = ", ".join(f"{_shown(values.iloc[r])} in row {r + 1}" for r in rows[:_EXAMPLES])
    more = ", ..." if len(rows) > _EXAMPLES else ""
    return f"{len(rows)} non-numeric value{'s' if len(rows) != 1 else ''} ({shown}{more})"


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def statistics(values: pd.Series) -> dict:
    """What a person checks in a regression label before trusting a model of it.

    ``missing`` are empty labels (dropped by create_data), ``non_numeric`` values that are no
    number (refused), ``zeros`` says whether MAPE can be computed.
    """
    numbers, foreign = as_numbers(values)
    present = numbers[~np.isnan(numbers)]
    finite = present[np.isfinite(present)]
    out: dict = {
        "count": len(finite),
        "missing": int(np.isnan(numbers).sum() - foreign.sum()),
        "non_numeric": int(foreign.sum()),
        "distinct": int(pd.unique(finite).size),
        "zeros": int((finite == 0).sum()),
    }
    if len(finite):
        quantiles = np.quantile(finite, QUANTILES)
        out.update(
            {
                "min": _number(finite.min()),
                "max": _number(finite.max()),
                "mean": _number(finite.mean()),
                "std": _number(finite.std()),
                "quantiles": {
                    f"p{round(q * 100):02d}": _number(v) for q, v in zip(QUANTILES, quantiles, strict=True)
                },
            }
        )
    return out


def _number(value: float) -> float:
    """A statistic for the manifest: 6 significant digits are what a person reads."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(0, 5 - math.floor(math.log10(abs(value)))))


@dataclass(frozen=True)
class Bins:
    """Adjacent label values grouped into strata of about equal rows (a value is never split)."""

    codes: np.ndarray  # a bin per row
    names: list[str]
    upper: list[float]  # the largest label value in each bin
    rows: list[int]

    def to_dict(self) -> dict:
        return {"names": self.names, "upper_bounds": self.upper, "rows": self.rows}


def bins(values: np.ndarray, smallest_share: float, most: int = BINS) -> Bins:
    """Equal-frequency bins of the label for stratified splits.

    Each bin closes once it holds ``len(values) / most`` rows, and at least the rows that give the
    smallest split (``smallest_share`` of all rows) two of them; a last bin smaller than that joins
    the one before. Values that repeat (a 1-5 rating) stay whole: a bin holds one or more values.
    """
    values = np.asarray(values, dtype=np.float64)
    unique, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    need = math.ceil(2 / smallest_share - 1e-9) if smallest_share > 0 else 1
    target = max(len(values) / most, need)
    cumulative = np.cumsum(counts)
    closes: list[int] = []  # index of the last unique value of each bin but the last
    done = 0
    while True:
        index = int(np.searchsorted(cumulative, done + target - 1e-9))
        if index >= len(unique) - 1:
            break
        closes.append(index)
        done = int(cumulative[index])
    if closes and int(cumulative[-1]) - int(cumulative[closes[-1]]) < need:
        closes.pop()
    value_bin = np.searchsorted(np.asarray(closes, dtype=np.int64), np.arange(len(unique)), side="left")
    ends = [*closes, len(unique) - 1]
    starts = [0, *(c + 1 for c in closes)]
    names = [
        f"{unique[s]:g}" if s == e else f"{unique[s]:g} to {unique[e]:g}"
        for s, e in zip(starts, ends, strict=True)
    ]
    rows = np.bincount(value_bin, weights=counts, minlength=len(ends)).astype(int).tolist()
    return Bins(value_bin[inverse].astype(np.int64), names, [float(unique[e]) for e in ends], rows)
