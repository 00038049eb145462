"""A delimited file is parsed chunk by chunk (for memory), and the frame is exactly pandas' own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bricksml.data import readers, sample

ROWS = 4_500  # several chunks at the smallest chunk size (1,000 rows)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parse 1,000 rows at a time, whatever the width of the rows."""
    monkeypatch.setattr(readers, "_PARSE_BYTES", 1)


def _same(frame: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    assert type(frame.index) is type(expected.index)
    for column in expected.columns:  # a column of Python objects: the same type of value in each row
        if expected[column].dtype == object:
            assert [type(v) for v in frame[column]] == [type(v) for v in expected[column]], column


def _late(values: list, fill: object) -> list:
    """``fill`` in every row but the last few, which hold ``values``: a change after the first chunk."""
    return [fill] * (ROWS - len(values)) + values


def test_the_chunks_of_a_text_file_make_the_frame_of_one_parse(tmp_path: Path, small_chunks: None) -> None:
    path = tmp_path / "raw.csv"
    raw = sample.sentiment(ROWS, seed=3)
    raw["score"] = np.random.default_rng(3).normal(size=ROWS)
    raw.loc[::7, "score"] = np.nan
    raw.to_csv(path, index=False)
    frame, sources = readers.read_raw(path)
    _same(frame, pd.read_csv(path))
    assert sources[0].records == ROWS and sources[0].bad_records == 0


@pytest.mark.parametrize(
    "column",
    [
        _late(["a1", "b2"], "7"),  # numbers, then text: pandas' answer for the whole column
        _late(["late text"], ""),  # empty in the first chunks, then text
        _late(["", "3"], "1"),  # integers, then a missing value: decimals
        _late(["", "False"], "True"),  # true/false, then a missing value: Python objects
        _late(["maybe"], "True"),
    ],
    ids=[
        "numbers-then-text",
        "empty-then-text",
        "ints-then-missing",
        "bools-then-missing",
        "bools-then-text",
    ],
)
def test_a_column_whose_type_changes_between_chunks_reads_as_in_one_parse(
    tmp_path: Path, small_chunks: None, column: list
) -> None:
    path = tmp_path / "raw.csv"
    pd.DataFrame({"id": range(ROWS), "value": column, "label": ["x", "y", "z"] * (ROWS // 3)}).to_csv(
        path, index=False
    )
    frame, _ = readers.read_raw(path)
    _same(frame, pd.read_csv(path))


def test_files_without_header_and_tab_files_read_in_chunks_as_in_one_parse(
    tmp_path: Path, small_chunks: None
) -> None:
    raw = sample.sentiment(ROWS, seed=5)[["Sentence", "Sentiment"]]
    raw["Sentence"] = raw["Sentence"].str.replace(" ", ' "', n=1, regex=False)  # a stray quote in each
    headless = tmp_path / "headless.csv"
    raw.to_csv(headless, index=False, header=False)
    options = readers.ReadOptions(header=False, columns=("Sentence", "Sentiment"))
    frame, _ = readers.read_raw(headless, options)
    _same(frame, pd.read_csv(headless, header=None, names=["Sentence", "Sentiment"]))
    tabs = tmp_path / "raw.tsv"
    tabs.write_text(
        "Sentence\tSentiment\n"
        + "".join(f"{s}\t{y}\n" for s, y in zip(raw["Sentence"], raw["Sentiment"], strict=True))
    )
    frame, sources = readers.read_raw(tabs)
    assert sources[0].quoting == "none"  # the stray quotes stay characters
    _same(frame, pd.read_csv(tabs, sep="\t", quoting=3))
    assert frame["Sentence"].tolist() == raw["Sentence"].tolist()


def test_records_kept_after_a_bad_one_are_read_in_chunks_too(tmp_path: Path, small_chunks: None) -> None:
    path = tmp_path / "raw.csv"
    lines = [f"{i},text {i},{'xyz'[i % 3]}" for i in range(ROWS)]
    lines[2_500] += ",one field too many"
    path.write_text("id,text,label\n" + "\n".join(lines) + "\n")
    frame, sources = readers.read_raw(path, readers.ReadOptions(bad_records="drop"))
    assert sources[0].dropped == 1 and sources[0].examples[0].line == 2_502
    expected = pd.read_csv(path, skiprows=[2_501])  # 0-based: the header is line 0
    _same(frame, expected)
