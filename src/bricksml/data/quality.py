"""Data-quality assessment: what is wrong with the raw rows, and what create_data does about it.

Pure functions of a frame and the column roles; no I/O.
"""

from __future__ import annotations

import datetime as dt
import decimal
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bricksml.data import arrow, leaks
from bricksml.errors import DataError

EXAMPLES = 3
#: Bad records named on the screen (the manifest keeps more).
_LINE_EXAMPLES = 5
#: Normalised text is grouped in buckets of about this many bytes, so that the hash table of
#: distinct texts never holds the whole column at once.
_BUCKET_BYTES = 4 << 20
#: Rows per slice when scanning text bytes, to bound temporary arrays.
_SLICE_ROWS = 1 << 16
_SENTINEL = pa.array(["x"], pa.large_string())
#: What a column holds, in the words of a message, from pandas' type inference (a C pass that
#: stops at the first value of another type); integers and decimal numbers are both numbers.
_INFERRED = {
    "string": "text",
    "integer": "integers",
    "floating": "decimal numbers",
    "mixed-integer-float": "decimal numbers",
    "decimal": "decimal numbers",
    "boolean": "true/false values",
    "datetime64": "dates",
    "datetime": "dates",
    "date": "dates",
    "timedelta64": "durations",
    "timedelta": "durations",
    "bytes": "bytes",
}
#: The kind of a column without a value: it takes the kind of the same column in other files.
NO_VALUES = "no values"
#: Kinds no row can be learnt from or split on: one value per row is what a label, an id or a
#: feature is.
NESTED = ("lists", "records")


@dataclass
class QualityReport:
    """Counts a person reads before trusting the splits (also stored in the manifest).

    ``text`` only chooses the wording (texts or rows); it is not stored. Every record in the raw
    files is accounted for: ``records_in_file`` = bad records dropped + ``rows_in``, and
    ``rows_in`` = missing label + empty text + duplicates dropped + ``rows_out`` (see :attr:`rows`).
    """

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
    records_in_file: int = 0
    bad_records: dict = field(
        default_factory=lambda: {"found": 0, "dropped": 0, "action": "fail", "examples": []}
    )
    rare_classes: dict[str, int] = field(default_factory=dict)
    suspected_leaks: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: A regression label's statistics (count, missing, non_numeric, min, max, mean, quantiles).
    label_stats: dict = field(default_factory=dict)
    text: bool = True

    @property
    def rows(self) -> dict:
        """Where every record of the raw files went: read, dropped (and why), kept."""
        return {
            "records_in_file": self.records_in_file,
            "read": self.rows_in,
            "dropped": {
                "bad_records": self.bad_records["dropped"],
                "missing_label": self.missing_label,
                "empty_text": self.empty_text,
                "exact_duplicates": self.duplicates_dropped,
            },
            "kept": self.rows_out,
        }

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "text"}
        out["rows"] = self.rows
        return out

    def lines(self) -> list[str]:
        """The findings as short lines for the screen."""
        bad = self.bad_records
        out = []
        if self.records_in_file != self.rows_in or bad["found"]:
            out.append(f"records in the raw files: {self.records_in_file}")
        out.append(f"rows read: {self.rows_in}, kept: {self.rows_out}")
        if bad["found"]:
            shown = bad["examples"][:_LINE_EXAMPLES]
            where = ", ".join(f"{b['file']} line {b['line']}" for b in shown)
            more = ", ..." if bad["found"] > len(shown) else ""
            verb = f"dropped {bad['dropped']}" if bad["dropped"] else f"kept {bad['found']} (as parsed)"
            out.append(f"{verb} bad records ({where}{more}; bad_records={bad['action']})")
        if self.missing_label:
            out.append(f"dropped {self.missing_label} rows with a missing label")
        if self.empty_text:
            out.append(f"dropped {self.empty_text} rows with empty text")
        if self.exact_duplicates:
            verb = "dropped" if self.duplicates_dropped else "kept"
            same = "text" if self.text else "features"
            out.append(f"{verb} {self.exact_duplicates} exact duplicates (same {same} and label)")
        if self.conflicting_groups:
            what = "texts appear" if self.text else "sets of rows with the same features appear"
            out.append(
                f"{self.conflicting_groups} {what} with different labels "
                f"({self.conflicting_rows} rows, kept together in one split)"
            )
        if self.duplicate_ids:
            out.append(f"{self.duplicate_ids} rows repeat an id already seen")
        if self.label_stats:
            out.append(label_line(self.label_stats))
        else:
            out.append("classes: " + ", ".join(f"{k}={v}" for k, v in self.class_counts.items()))
        for name, count in self.rare_classes.items():
            out.append(
                f"class {name!r} ({count} rows) is in train only: too small to reach every split "
                "(rare_classes=train); it has no test or holdout score"
            )
        out.extend(leaks.describe(leak) for leak in self.suspected_leaks)
        out.extend(self.notes)
        return out


def label_line(stats: dict) -> str:
    """A regression label's statistics in one line."""
    if not stats.get("count"):
        return "label: no values"
    q = stats.get("quantiles", {})
    return (
        f"label: {stats['count']} values from {stats['min']:g} to {stats['max']:g}, mean {stats['mean']:g}, "
        f"median {q.get('p50', float('nan')):g} (5%-95%: {q.get('p05', float('nan')):g} to "
        f"{q.get('p95', float('nan')):g}), {stats['distinct']} distinct"
    )


@dataclass
class Assessment:
    """The outcome of :func:`assess_rows`: which rows to keep, their groups and labels, the report.

    ``rows`` are positions in the input frame (ascending); ``groups`` and ``label_codes`` have one
    entry per kept row; ``label_codes`` index ``label_names`` (the label as a string).
    """

    rows: np.ndarray
    groups: np.ndarray
    label_codes: np.ndarray
    label_names: list[str]
    report: QualityReport

    def label_counts(self, positions: np.ndarray | None = None) -> dict[str, int]:
        """Rows per class (every class of the report, 0 if absent) among kept rows at ``positions``."""
        codes = self.label_codes if positions is None else self.label_codes[positions]
        counts = np.bincount(codes, minlength=len(self.label_names))
        index = {name: code for code, name in enumerate(self.label_names)}
        return {k: int(counts[index[k]]) for k in self.report.class_counts}


def require_columns(frame: pd.DataFrame, columns: Iterable[tuple[str, str]]) -> None:
    """Fail with one line naming every missing column as its parameter and name (label_col 'y')."""
    missing = [f"{role} {col!r}" for role, col in columns if col and col not in frame.columns]
    if missing:
        raise DataError(
            f"column not found: {', '.join(missing)}; the data has {list(map(str, frame.columns))}:"
            " name one of those"
        )


def column_kind(values: pd.Series) -> str:
    """What a column holds, in words ("integers", "text", "lists", ...; "mixed" for several kinds).

    Typed columns are judged by their type; only object columns (JSON Lines, Parquet lists and
    structs) are looked at value by value, and only when pandas' inference finds no single type.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = pd.Series(values.cat.categories)
    if values.isna().all():
        return NO_VALUES
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred in _INFERRED:
        return _INFERRED[inferred]
    found = mixed_values(values)
    return "mixed" if found else value_kind(values[values.notna()].iloc[0])


def family(kind: str) -> str:
    """Kinds that mix without loss: integers and decimal numbers are both numbers."""
    return "numbers" if kind in ("integers", "decimal numbers") else kind


def value_kind(value: object) -> str:
    """The kind of one value, in the words of :func:`column_kind`."""
    if isinstance(value, (bool, np.bool_)):
        return "true/false values"
    if isinstance(value, numbers.Integral):
        return "integers"
    if isinstance(value, (numbers.Real, decimal.Decimal)):
        return "decimal numbers"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return "lists"
    if isinstance(value, dict):
        return "records"
    if isinstance(value, (dt.date, dt.datetime)):
        return "dates"
    if isinstance(value, dt.timedelta):
        return "durations"
    return type(value).__name__


def mixed_values(values: pd.Series) -> tuple[str, str, int, object] | None:
    """Two kinds of values in one column: the first kind, the other, and its first value (row, value).

    Rows are 0-based positions. None when every value is of one family (see :func:`family`).
    """
    if values.dtype != object:
        return None
    first: str | None = None
    present = values.notna().to_numpy()
    for row, value in enumerate(values.to_numpy()):
        if not present[row]:
            continue
        kind = value_kind(value)
        if first is None:
            first = kind
        elif family(kind) != family(first):
            return first, kind, row, value
    return None


def show(value: object, limit: int = 40) -> str:
    """A value as a message quotes it: its repr (a NumPy array as a list), cut to ``limit`` characters."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def require_flat(frame: pd.DataFrame, roles: Iterable[tuple[str, str]], features: Iterable[str] = ()) -> None:
    """Refuse a column of lists or records where a job needs one value per row, naming it.

    ``roles`` are (parameter, column) pairs (the label, text and id columns); ``features`` the
    other columns a tabular model learns from. A text data set carries its other columns as they
    are: nothing reads them.
    """
    need = {
        "label_col": "the label must be one class per row (a name or a number)",
        "text_col": "the text column must hold one text per row",
        "id_col": "an id must be one value per row",
    }
    named = [(role, col) for role, col in roles if col]
    named += [("column", col) for col in features if col not in {c for _, c in named}]
    for role, col in named:
        values = frame[col]
        if values.dtype != object:
            continue
        kind = column_kind(values)
        if kind not in NESTED:
            continue
        row = int(np.flatnonzero(values.notna().to_numpy())[0])
        example = f"{show(values.iloc[row])} in row {row + 1}"
        if role == "column":
            raise DataError(
                f"column {col!r} holds {kind} (e.g. {example}), not one value per row: a tabular data "
                "set learns from every column but label_col and id_col; flatten it into columns or "
                "remove it from the raw files"
            )
        raise DataError(
            f"{role} {col!r} holds {kind} (e.g. {example}), not one value per row; {need[role]}: "
            "flatten the column in the raw files or name another one"
        )


def normalized_text(text: pd.Series) -> pa.Array:
    """The key under which two texts count as the same: case and spacing do not matter.

    Runs in Arrow's compute kernels: one vectorised pass instead of a Python call per row.
    """
    return _normalize(pa.array(text.astype("string[pyarrow]")))


def _normalize(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Lower-case (Unicode), trim and fold white space: the definition of the text key.

    Trimmed first: Arrow's ``utf8_split_whitespace`` keeps an empty word for white space at either
    end, which would make "Profit rose. " another text than "Profit rose.". A non-blank sentinel row
    goes last: that kernel also reads past the end of the data for a text that ends the buffer
    with white space, and then sometimes keeps it.
    """
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    arr = pa.concat_arrays([c.cast(pa.large_string()) for c in chunks] + [_SENTINEL])
    words = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(pc.utf8_lower(arr)))
    return pc.binary_join(words, pa.scalar(" ", pa.large_string())).fill_null("")[:-1]


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
    result = assess_rows(frame, label_col=label_col, text_col=text_col, id_col=id_col, duplicates=duplicates)
    return frame.take(result.rows).reset_index(drop=True), result.groups, result.report


def assess_rows(
    frame: pd.DataFrame,
    *,
    label_col: str,
    text_col: str | None,
    id_col: str | None,
    duplicates: str,
) -> Assessment:
    """:func:`assess` without copying the frame: the kept rows come back as positions."""
    roles = [("label_col", label_col), ("text_col", text_col or ""), ("id_col", id_col or "")]
    require_columns(frame, roles)
    require_flat(frame, roles, () if text_col else [c for c in frame.columns if c not in (label_col, id_col)])
    report = QualityReport(rows_in=len(frame), records_in_file=len(frame), text=bool(text_col))
    label = frame[label_col]
    missing = _empty(label, arrow.strings(label))
    report.missing_label = int(missing.sum())
    keep = ~missing
    text = arrow.strings(frame[text_col]) if text_col else None
    if text_col:
        empty = _empty(frame[text_col], text)
        report.empty_text = int((empty & keep).sum())
        keep &= ~empty
    rows = np.flatnonzero(keep)
    del missing, keep
    if not len(rows):
        raise DataError(
            f"no usable rows: all {report.rows_in} rows miss the label {label_col!r}"
            + (f" or the text {text_col!r}" if text_col else "")
        )

    if text is not None:
        key = text_key(text, rows)  # codes below len(rows)
    elif text_col:
        key = _factorize(normalized_text(arrow.take_series(frame[text_col], rows)))
    else:
        features = [c for c in frame.columns if c not in (label_col, id_col)]
        hashed = pd.util.hash_pandas_object(frame[features], index=False).to_numpy()
        key = pd.factorize(hashed[rows])[0].astype(np.int64, copy=False)
        del hashed
    codes, uniques = pd.factorize(label.astype("string"))
    label_names = [str(u) for u in uniques]
    label_code = codes[rows].astype(np.int64, copy=False)
    del codes
    n_labels = max(len(label_names), 1)
    duplicate = pd.Series(_narrow(key * n_labels + label_code)).duplicated().to_numpy()
    report.exact_duplicates = int(duplicate.sum())
    if report.exact_duplicates and duplicates == "fail":
        first = int(np.flatnonzero(duplicate)[0])
        example = _examples(frame, text_col, rows, np.array([first]), 1)[0]
        raise DataError(
            f"duplicates: {report.exact_duplicates} exact duplicate rows (e.g. {example}); "
            "set duplicates=drop or duplicates=keep"
        )
    if duplicates == "drop" and report.exact_duplicates:
        rows, key, label_code = rows[~duplicate], key[~duplicate], label_code[~duplicate]
        report.duplicates_dropped = report.exact_duplicates

    groups = pd.factorize(_narrow(key))[0].astype(np.int64, copy=False)  # in order of first appearance
    del key
    arrow.release_memory()  # the hash tables of the duplicates and the groups
    if report.exact_duplicates and not report.duplicates_dropped:
        pairs = pd.unique(groups * n_labels + label_code)
        labels_per_group = np.bincount(pairs // n_labels)
    else:  # every (group, label) pair is unique
        labels_per_group = np.bincount(groups)
    conflicted = labels_per_group > 1
    report.conflicting_groups = int(conflicted.sum())
    if report.conflicting_groups:
        in_conflict = np.flatnonzero(conflicted[groups])
        report.conflicting_rows = len(in_conflict)
        report.conflict_examples = _examples(frame, text_col, rows, in_conflict, EXAMPLES)
    if id_col:
        report.duplicate_ids = int(arrow.take_series(frame[id_col], rows).duplicated().sum())
    counts = np.bincount(label_code, minlength=len(label_names))
    report.class_counts = {
        name: int(counts[code])
        for code, name in sorted(enumerate(label_names), key=lambda kv: kv[1])
        if counts[code]
    }
    report.rows_out = len(rows)
    return Assessment(rows, groups, label_code, label_names, report)


def _narrow(codes: np.ndarray) -> np.ndarray:
    """Non-negative codes as 32-bit integers when they fit: pandas' hash table of them is half the size
    (at 1M rows, 14 MB less at the peak of the checks); the codes it finds are the same."""
    if len(codes) and codes.min() >= 0 and codes.max() < 2**31:
        return codes.astype(np.int32)
    return codes


def _factorize(values: pa.Array) -> np.ndarray:
    return pc.dictionary_encode(values).indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def _examples(
    frame: pd.DataFrame, text_col: str | None, rows: np.ndarray, positions: np.ndarray, limit: int
) -> list[str]:
    """Up to ``limit`` distinct descriptions of the kept rows at ``positions`` (in order)."""
    if not text_col:
        return [f"row {i}" for i in positions[:limit]]
    seen: list[str] = []
    block = 64
    for start in range(0, len(positions), block):
        texts = arrow.take_series(frame[text_col], rows[positions[start : start + block]])
        for described in _describe(texts).tolist():
            if described not in seen:
                seen.append(described)
                if len(seen) == limit:
                    return seen
        block *= 4
    return seen


def _describe(text: pd.Series) -> pd.Series:
    return text.astype("string").str.slice(0, 60).map(repr)


def _empty(values: pd.Series, text: pa.ChunkedArray | None) -> np.ndarray:
    """Missing, empty or only white space (what ``str.strip() == ""`` finds, without the copy)."""
    if text is None:
        values = values.astype("string")
        return (values.isna() | values.str.strip().eq("").fillna(True)).to_numpy(dtype=bool)
    blank = pc.or_kleene(pc.equal(text, ""), pc.utf8_is_space(text))
    return pc.fill_null(blank, True).to_numpy(zero_copy_only=False)


def text_key(text: pa.ChunkedArray, rows: np.ndarray) -> np.ndarray:
    """A code per row of ``text`` at ``rows``: the same code exactly when the normalised texts match.

    Exactly the key of :func:`normalized_text`, computed in less time and memory. Rows of printable
    ASCII with single spaces between words only need lower-casing (ASCII kernels); any other row
    takes the Unicode path. Distinct texts are counted per bucket of normalised length, so the hash
    table never holds all texts at once. Rows that are not plain are normalised twice (once in
    :func:`_scan` for their length, once in their bucket): keeping them between the two would hold
    every such text at once, which is what the buckets avoid.
    """
    plain, length = _scan(text)
    if len(rows) < len(text):
        plain, length = plain[rows], length[rows]
    n_buckets = max(1, -(-int(length.sum(dtype=np.int64)) // _BUCKET_BYTES))
    bucket = (length % n_buckets).astype(np.int16 if n_buckets < 2**15 else np.int32)
    by_bucket = np.argsort(bucket, kind="stable")  # a radix sort; ascending rows within a bucket
    ends = np.cumsum(np.bincount(bucket, minlength=n_buckets))
    del bucket, length
    key = np.empty(len(rows), dtype=np.int64)
    offset = 0
    for start, end in zip(np.concatenate([[0], ends[:-1]]), ends, strict=True):
        members = by_bucket[start:end]
        is_plain = plain[members]
        simple, other = members[is_plain], members[~is_plain]
        chunks = []
        if len(simple):
            chunks += pc.ascii_lower(
                arrow.take(text, rows[simple], arrow.POOL), memory_pool=arrow.POOL
            ).chunks
        if len(other):
            chunks.append(_normalize(arrow.take(text, rows[other])))
        encoded = pc.dictionary_encode(
            pa.chunked_array(chunks, type=pa.large_string()), memory_pool=arrow.POOL
        )
        del chunks
        codes = np.concatenate(
            [np.empty(0, np.int64)] + [c.indices.to_numpy(zero_copy_only=False) for c in encoded.chunks]
        ).astype(np.int64, copy=False)
        del encoded
        key[simple] = codes[: len(simple)] + offset
        key[other] = codes[len(simple) :] + offset
        offset += int(codes.max()) + 1 if len(codes) else 0
    return key


def _scan(text: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: is it plain (the lower-cased text is its key), and the byte length of its key.

    Plain: printable ASCII only, no space at either end, no two spaces in a row. A row that is not
    plain may still need nothing but lower-casing; it just takes the slower exact path.
    """
    plain = np.empty(len(text), dtype=bool)
    length = np.empty(len(text), dtype=np.int32)
    at = 0
    for chunk in text.chunks:
        for start in range(0, len(chunk), _SLICE_ROWS):
            part = chunk.slice(start, _SLICE_ROWS)
            n = len(part)
            _, offsets, data = part.buffers()
            offsets = np.frombuffer(offsets, dtype=np.int64)[part.offset : part.offset + n + 1]
            data = np.frombuffer(data, dtype=np.int8) if data is not None else np.empty(0, np.int8)
            data = data[offsets[0] : offsets[-1]]
            offsets = offsets - offsets[0]
            sizes = np.diff(offsets)
            ok = np.ones(n, dtype=bool)
            space = data == 32
            odd = np.flatnonzero(data < 32)  # control characters, and every byte of a non-ASCII one
            doubled = np.flatnonzero(space[1:] & space[:-1])
            for positions in (odd, doubled):
                if len(positions):
                    ok[np.searchsorted(offsets, positions, side="right") - 1] = False
            filled = sizes > 0
            ends = np.zeros(n, dtype=bool)
            ends[filled] = space[offsets[:-1][filled]] | space[offsets[1:][filled] - 1]
            ok &= ~ends
            if part.null_count:
                ok &= part.is_valid().to_numpy(zero_copy_only=False)
            sizes = sizes.copy()
            other = np.flatnonzero(~ok)
            if len(other):
                normalized = _normalize(part.take(other))
                sizes[other] = pc.binary_length(normalized).to_numpy(zero_copy_only=False)
            plain[at : at + n] = ok
            length[at : at + n] = sizes
            at += n
    return plain, length
