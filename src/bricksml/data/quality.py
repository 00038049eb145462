"""Data-quality assessment: what is wrong with the raw rows, and what create_data does about it.

Pure functions of a frame and the column roles; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bricksml.errors import DataError

EXAMPLES = 3


@dataclass
class QualityReport:
    """Counts a person reads before trusting the splits (also stored in the manifest)."""

    rows_in: int = 0
    rows_out: int = 0
    missing_label: int = 0
    empty_text: int = 0
    exact_duplicates: int = 0
    duplicates_dropped: int = 0
    conflicting_groups: int = 0
    conflicting_rows: int = 0
    duplicate_ids: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    conflict_examples: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def lines(self) -> list[str]:
        """The findings as short lines for the screen."""
        out = [f"rows read: {self.rows_in}, kept: {self.rows_out}"]
        if self.missing_label:
            out.append(f"dropped {self.missing_label} rows with a missing label")
        if self.empty_text:
            out.append(f"dropped {self.empty_text} rows with empty text")
        if self.exact_duplicates:
            verb = "dropped" if self.duplicates_dropped else "kept"
            out.append(f"{verb} {self.exact_duplicates} exact duplicates")
        if self.conflicting_groups:
            out.append(
                f"{self.conflicting_groups} texts/rows appear with different labels "
                f"({self.conflicting_rows} rows, kept together in one split)"
            )
        if self.duplicate_ids:
            out.append(f"{self.duplicate_ids} rows repeat an id already seen")
        out.append("classes: " + ", ".join(f"{k}={v}" for k, v in self.class_counts.items()))
        out.extend(self.notes)
        return out


def require_columns(frame: pd.DataFrame, columns: dict[str, str]) -> None:
    """Fail with one line naming every missing column (role -> column name)."""
    missing = [f"{role} {col!r}" for role, col in columns.items() if col and col not in frame.columns]
    if missing:
        raise DataError(
            f"column not found: {', '.join(missing)}; the data has {list(map(str, frame.columns))}"
        )


def normalized_text(text: pd.Series) -> pa.Array:
    """The key under which two texts count as the same: case and spacing do not matter.

    Runs in Arrow's compute kernels: one vectorised pass instead of a Python call per row.
    """
    arr = pa.array(text.astype("string[pyarrow]"))
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.cast(pa.large_string()).combine_chunks()
    else:
        arr = arr.cast(pa.large_string())
    words = pc.utf8_split_whitespace(pc.utf8_lower(arr))
    return pc.binary_join(words, pa.scalar(" ", pa.large_string())).fill_null("")


def assess(
    frame: pd.DataFrame,
    *,
    label_col: str,
    text_col: str | None,
    id_col: str | None,
    duplicates: str,
) -> tuple[pd.DataFrame, np.ndarray, QualityReport]:
    """Clean the rows and find the groups that must stay in one split.

    Returns the kept rows (original order), a group code per kept row (rows with the same text,
    or the same features for tabular data, share a code), and the report.
    """
    require_columns(frame, {"label_col": label_col, "text_col": text_col or "", "id_col": id_col or ""})
    report = QualityReport(rows_in=len(frame))
    label = frame[label_col]
    missing = label.isna() | label.astype("string").str.strip().eq("").fillna(True)
    report.missing_label = int(missing.sum())
    keep = ~missing
    if text_col:
        text = frame[text_col].astype("string")
        empty = text.isna() | text.str.strip().eq("").fillna(True)
        report.empty_text = int((empty & keep).sum())
        keep &= ~empty
    frame = frame.loc[keep.to_numpy()].reset_index(drop=True)
    if frame.empty:
        raise DataError(
            f"no usable rows: all {report.rows_in} rows miss the label {label_col!r}"
            + (f" or the text {text_col!r}" if text_col else "")
        )

    key = _row_key(frame, label_col, text_col, id_col)
    label_code, _ = pd.factorize(frame[label_col].astype("string"))
    pair = pd.DataFrame({"key": key, "label": label_code})
    duplicate = pair.duplicated().to_numpy()
    report.exact_duplicates = int(duplicate.sum())
    if report.exact_duplicates and duplicates == "fail":
        example = _describe(frame.loc[duplicate], text_col).iloc[0]
        raise DataError(
            f"duplicates: {report.exact_duplicates} exact duplicate rows (e.g. {example}); "
            "set duplicates=drop or duplicates=keep"
        )
    if duplicates == "drop" and report.exact_duplicates:
        frame = frame.loc[~duplicate].reset_index(drop=True)
        key = key[~duplicate]
        pair = pair.loc[~duplicate].reset_index(drop=True)
        report.duplicates_dropped = report.exact_duplicates

    groups, _ = pd.factorize(key)
    labels_per_group = pair.groupby("key", sort=False)["label"].nunique()
    conflicted = labels_per_group[labels_per_group > 1]
    report.conflicting_groups = len(conflicted)
    if len(conflicted):
        in_conflict = np.isin(key, conflicted.index.to_numpy())
        report.conflicting_rows = int(in_conflict.sum())
        report.conflict_examples = (
            _describe(frame.loc[in_conflict], text_col).drop_duplicates().head(EXAMPLES).tolist()
        )
    if id_col:
        report.duplicate_ids = int(frame[id_col].duplicated().sum())
    counts = frame[label_col].astype("string").value_counts(sort=False)
    report.class_counts = {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]))}
    report.rows_out = len(frame)
    return frame, groups.astype(np.int64), report


def _row_key(frame: pd.DataFrame, label_col: str, text_col: str | None, id_col: str | None) -> np.ndarray:
    if text_col:
        encoded = pc.dictionary_encode(normalized_text(frame[text_col]))
        return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    features = [c for c in frame.columns if c not in (label_col, id_col)]
    return pd.util.hash_pandas_object(frame[features], index=False).to_numpy()


def _describe(rows: pd.DataFrame, text_col: str | None) -> pd.Series:
    if text_col:
        return rows[text_col].astype("string").str.slice(0, 60).map(repr)
    return rows.index.to_series().map(lambda i: f"row {i}")
