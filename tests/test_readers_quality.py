"""Raw input formats and data-quality findings: each case a user meets with real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from bricksml.data import arrow, quality, readers
from bricksml.data.store import file_sha256
from bricksml.errors import DataError

FRAME = pd.DataFrame({"text": ["good, results", "bad; loss", "flat"], "label": ["pos", "neg", "neu"]})


def test_semicolon_csv_is_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    FRAME.to_csv(path, sep=";", index=False)
    frame, sources = readers.read_raw(path)
    assert list(frame.columns) == ["text", "label"]
    assert frame["text"].tolist() == FRAME["text"].tolist()
    assert sources[0].delimiter == ";"


@pytest.mark.parametrize("suffix", [".tsv", ".parquet", ".jsonl"])
def test_other_formats_read_the_same_rows(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"raw{suffix}"
    if suffix == ".tsv":
        FRAME.to_csv(path, sep="\t", index=False)
    elif suffix == ".parquet":
        FRAME.to_parquet(path, index=False)
    else:
        FRAME.to_json(path, orient="records", lines=True)
    frame, sources = readers.read_raw(path)
    assert frame["label"].tolist() == ["pos", "neg", "neu"]
    assert sources[0].sha256 == file_sha256(path)


def test_cp1252_file_is_read_and_its_encoding_recorded(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_bytes("text,label\nprofit rose 5 € in Espoo,pos\nloss at Nestlé,neg\n".encode("cp1252"))
    frame, sources = readers.read_raw(path)
    assert frame["text"].tolist() == ["profit rose 5 € in Espoo", "loss at Nestlé"]
    assert sources[0].encoding == "cp1252"


def test_a_folder_of_files_is_concatenated_in_name_order(tmp_path: Path) -> None:
    FRAME.iloc[:2].to_csv(tmp_path / "a.csv", index=False)
    FRAME.iloc[2:].to_csv(tmp_path / "b.csv", index=False)
    frame, sources = readers.read_raw(tmp_path)
    assert frame["label"].tolist() == ["pos", "neg", "neu"]
    assert [Path(s.path).name for s in sources] == ["a.csv", "b.csv"]


def test_files_with_other_columns_are_refused(tmp_path: Path) -> None:
    FRAME.to_csv(tmp_path / "a.csv", index=False)
    FRAME.rename(columns={"text": "sentence"}).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(DataError, match="same columns"):
        readers.read_raw(tmp_path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "does not exist"),
        ("empty.csv", "", "is empty"),
        ("sheet.xlsx", "x", "not a supported file"),
        ("", None, "holds no CSV"),
    ],
)
def test_unreadable_raw_paths_fail_with_one_clear_line(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name if name else tmp_path
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        readers.read_raw(path)
    assert "\n" not in str(info.value)


def _assess(frame: pd.DataFrame, duplicates: str = "drop"):
    return quality.assess(frame, label_col="label", text_col="text", id_col=None, duplicates=duplicates)


def test_missing_labels_and_empty_texts_are_dropped_and_counted() -> None:
    frame = pd.DataFrame({"text": ["a", "  ", None, "b", "c"], "label": ["x", "y", "y", None, " "]})
    kept, _, report = _assess(frame)
    assert kept["text"].tolist() == ["a"]
    assert (report.missing_label, report.empty_text, report.rows_out) == (2, 2, 1)


def test_duplicate_policies() -> None:
    frame = pd.DataFrame({"text": ["Up  today", "up today", "down"], "label": ["p", "p", "n"]})
    kept, _, report = _assess(frame, "drop")
    assert len(kept) == 2 and report.exact_duplicates == 1 and report.duplicates_dropped == 1
    kept, groups, report = _assess(frame, "keep")
    assert len(kept) == 3 and groups[0] == groups[1] != groups[2]
    with pytest.raises(DataError, match="duplicates"):
        _assess(frame, "fail")


def test_white_space_around_a_text_does_not_make_it_another_text() -> None:
    frame = pd.DataFrame(
        {
            "text": ["Profit rose.", "Profit rose. ", "\tprofit  ROSE.", "Sales fell", " Sales fell\n"],
            "label": ["positive", "positive", "negative", "negative", "negative"],
        }
    )
    kept, groups, report = quality.assess(
        frame, label_col="label", text_col="text", id_col=None, duplicates="drop"
    )
    assert report.exact_duplicates == 2, report
    assert kept["text"].tolist() == ["Profit rose.", "\tprofit  ROSE.", "Sales fell"]
    assert report.conflicting_groups == 1 and report.conflicting_rows == 2
    assert len(np.unique(groups)) == 2


def test_same_text_with_other_labels_is_a_conflict_kept_in_one_group() -> None:
    frame = pd.DataFrame({"text": ["Sales rose", "sales  ROSE", "flat"], "label": ["p", "n", "n"]})
    _, groups, report = _assess(frame)
    assert report.conflicting_groups == 1 and report.conflicting_rows == 2
    assert groups[0] == groups[1] != groups[2]
    assert report.class_counts == {"n": 2, "p": 1}


def test_missing_columns_are_named() -> None:
    with pytest.raises(DataError, match="label_col 'target'"):
        quality.assess(FRAME, label_col="target", text_col="text", id_col=None, duplicates="drop")


def test_tabular_duplicates_are_whole_rows_without_the_id() -> None:
    frame = pd.DataFrame({"id": [1, 2, 3], "age": [30, 30, 41], "label": ["a", "a", "b"]})
    kept, groups, report = quality.assess(
        frame, label_col="label", text_col=None, id_col="id", duplicates="drop"
    )
    assert report.exact_duplicates == 1 and kept["id"].tolist() == [1, 3]
    assert len(np.unique(groups)) == 2


def test_text_key_groups_rows_exactly_as_the_normalized_text(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    pieces = ["a", "B", "é", "É", "ß", "İ", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "\x1c", ".", "x y"]
    values = ["".join(rng.choice(pieces, rng.integers(1, 6))) for _ in range(3000)] + ["Ab\t"]
    text = pa.chunked_array(
        [pa.array(values[:1000], pa.large_string()), pa.array(values[1000:], pa.large_string())]
    )
    rows = np.flatnonzero(rng.random(len(values)) < 0.8)
    rows = np.append(rows, len(values) - 1)
    monkeypatch.setattr(quality, "_BUCKET_BYTES", 50)  # many buckets
    key = quality.text_key(text, rows)
    one_by_one = [quality.normalized_text(pd.Series([values[r]]))[0].as_py() for r in rows]
    assert (pd.factorize(key)[0] == pd.factorize(pd.Series(one_by_one))[0]).all()


def test_normalized_text_of_a_last_row_ending_in_white_space_is_stable() -> None:
    # Arrow's utf8_split_whitespace reads past the end of the data: reused memory there made it vary
    base = pa.array(["x\u3000y", "İ", "é é", "ab", "Ab\t"] * 100, pa.large_string())
    rng = np.random.default_rng(1)
    keys = set()
    for _ in range(300):
        rows = np.append(np.sort(rng.choice(len(base) - 1, 20, replace=False)), len(base) - 1)
        keys.add(quality.normalized_text(pd.Series(pd.arrays.ArrowStringArray(base.take(rows))))[-1].as_py())
    assert keys == {"ab"}


def test_taken_rows_come_in_the_same_chunks_whatever_the_source_chunks() -> None:
    values = pa.array([f"row {i}" for i in range(200_000)], pa.large_string())
    rows = np.arange(0, 200_000, 2)
    one = arrow.take(pa.chunked_array([values]), rows)
    many = arrow.take(pa.chunked_array([values.slice(i, 7_000) for i in range(0, 200_000, 7_000)]), rows)
    assert one.combine_chunks().equals(values.take(rows)) and many.equals(one)
    assert (
        [len(c) for c in one.chunks]
        == [len(c) for c in many.chunks]
        == [arrow.BLOCK_ROWS, 100_000 - arrow.BLOCK_ROWS]
    )
