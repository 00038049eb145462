"""Raw input formats and data-quality findings: each case a user meets with real files."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- nothing lost in reading: bad records, quoting, headers, formats ----------------------------


def _texts(n: int) -> list[str]:
    return [f"sentence number {i}, with a comma" for i in range(n)]


def test_tsv_with_a_stray_quote_keeps_every_line_as_one_row(tmp_path: Path) -> None:
    texts = _texts(50)
    texts[10] = '"Buy now, he said'  # opens a quote that never closes: CSV rules would swallow lines
    texts[20] = 'a 5" screen'
    path = tmp_path / "raw.tsv"
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{i % 3}\n" for i, t in enumerate(texts)))
    frame, sources = readers.read_raw(path)
    lines = path.read_text().count("\n") - 1
    assert len(frame) == lines == 50, "one row per line"
    assert frame["text"].tolist() == texts, "the quotes are text, kept as they are"
    assert not frame["text"].str.contains("\n").any(), "no line merged into another"
    assert (sources[0].quoting, sources[0].records, sources[0].bad_records) == ("none", 50, 0)


def test_tsv_read_with_csv_quoting_names_the_merged_lines(tmp_path: Path) -> None:
    path = tmp_path / "raw.tsv"
    path.write_text('text\tlabel\nfine\t0\n"Buy now\t1\nnext\t2\nlast\t0\n')
    with pytest.raises(DataError, match=r"1 of 2 records .*lines 3-5 are one record.*quoting=none") as info:
        readers.read_raw(path, readers.ReadOptions(quoting="csv"))
    assert "\n" not in str(info.value)


MERGED = 'text,label\nfine,0\n"Buy now, he said,1\nnext,2\nclosed" here,0\nlast,1\n'


def test_csv_with_a_merged_record_fails_by_default_with_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_text(MERGED)
    with pytest.raises(
        DataError, match=r"^raw file 'raw.csv': 1 of 3 records .*lines 3-5 are one record"
    ) as info:
        readers.read_raw(path)
    message = str(info.value)
    assert "\n" not in message and "bad_records=drop" in message and "quoting=none" in message


def test_csv_merged_record_dropped_or_kept_as_asked(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_text(MERGED)
    frame, sources = readers.read_raw(path, readers.ReadOptions(bad_records="drop"))
    assert frame["text"].tolist() == ["fine", "last"]
    source = sources[0]
    assert (source.records, source.rows, source.bad_records, source.dropped) == (3, 2, 1, 1)
    assert [b.to_dict() for b in source.examples] == [
        {"file": "raw.csv", "line": 3, "last_line": 5, "kind": "merged", "fields": 2, "expected": 2}
    ]
    frame, sources = readers.read_raw(path, readers.ReadOptions(bad_records="keep"))
    assert len(frame) == 3 and frame["text"][1] == "Buy now, he said,1\nnext,2\nclosed here"
    assert (sources[0].bad_records, sources[0].dropped) == (1, 0)


def test_a_quoted_value_over_several_lines_is_one_good_record(tmp_path: Path) -> None:
    """Two paragraphs in one quoted value are text; a quote that swallows whole records is not."""
    path = tmp_path / "raw.csv"
    path.write_text('id,text,label\n1,"First paragraph.\nSecond, with a comma.",pos\n2,Plain,neg\n')
    frame, sources = readers.read_raw(path)
    assert frame["text"].tolist() == ["First paragraph.\nSecond, with a comma.", "Plain"]
    assert (sources[0].records, sources[0].bad_records) == (2, 0)
    path.write_text('id,text,label\n1,"Opened and never closed,pos\n2,Plain,neg\n3,Last,pos\n')
    with pytest.raises(DataError, match=r"lines 2-4 are one record"):
        readers.read_raw(path)


RAGGED = "a,b,label\n1,2,x\n3,4,y,extra\n5,6,x\n7,y\n8,9,x\n"


def test_ragged_records_fail_with_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_text(RAGGED)
    with pytest.raises(DataError, match=r"2 of 5 records .*line 3 has 4 fields; line 5 has 2 fields"):
        readers.read_raw(path)
    frame, sources = readers.read_raw(path, readers.ReadOptions(bad_records="drop"))
    assert frame["a"].tolist() == [1, 5, 8] and sources[0].dropped == 2
    with pytest.raises(DataError, match="more fields than the header cannot be kept"):
        readers.read_raw(path, readers.ReadOptions(bad_records="keep"))
    path.write_text("a,b,label\n1,2,x\n7,y\n")
    frame, _ = readers.read_raw(path, readers.ReadOptions(bad_records="keep"))
    assert len(frame) == 2 and frame["label"].isna().tolist() == [False, True]


def test_every_bad_record_is_counted_even_past_the_examples(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    body = "".join("1,2\n" if i % 2 else "1,2,3\n" for i in range(100))
    path.write_text("a,b\n" + body)
    frame, sources = readers.read_raw(path, readers.ReadOptions(bad_records="drop"))
    assert len(frame) == 50 and sources[0].bad_records == 50 and sources[0].records == 100
    assert len(sources[0].examples) == readers.EXAMPLES


@pytest.mark.parametrize(
    "content",
    [
        "text,label\nx,0\n\ny,1\n\n\n",  # blank lines inside and at the end
        "\n\ntext,label\r\nx,0\r\n\r\ny,1\r\n",  # blank lines first, Windows line ends
        'text,label\n"x, quoted",0\n"say ""y""",1',  # quoted values, no line end at the end
        "text,label\n   \nx,0\ny,1\n",  # a line of spaces
        "text,label\nx,0\ry,1\n",  # an old Mac line end
    ],
)
def test_well_formed_files_have_no_bad_records(tmp_path: Path, content: str) -> None:
    path = tmp_path / "raw.csv"
    path.write_bytes(content.encode())
    frame, sources = readers.read_raw(path)
    assert len(frame) == 2 and frame["label"].tolist() == [0, 1]
    assert (sources[0].records, sources[0].bad_records) == (2, 0)


def test_tsv_that_quotes_its_values_is_noted(tmp_path: Path) -> None:
    path = tmp_path / "raw.tsv"
    path.write_text("text\tlabel\n" + "".join(f'"text {i}"\t{i % 2}\n' for i in range(10)))
    frame, sources = readers.read_raw(path)
    assert frame["text"][0] == '"text 0"'
    assert any("quoting=csv" in note for note in sources[0].notes)
    frame, _ = readers.read_raw(path, readers.ReadOptions(quoting="csv"))
    assert frame["text"][0] == "text 0"


def test_a_headerless_file_is_named_with_columns(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_text("good, results,pos\nloss,neg\n".replace("good, results", '"good, results"'))
    frame, sources = readers.read_raw(path, readers.ReadOptions(header=False, columns=("text", "label")))
    assert list(frame.columns) == ["text", "label"]
    assert frame["text"].tolist() == ["good, results", "loss"], "the first line is data, not a header"
    assert sources[0].header is False and sources[0].records == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            readers.ReadOptions(header=False, columns=("a", "b", "c")),
            r"columns gives 3 names .* has 2 fields",
        ),
        (readers.ReadOptions(header=True, columns=("a", "b")), "set header=false"),
        (readers.ReadOptions(header=False), "header=false needs columns"),
    ],
)
def test_wrong_columns_are_one_clear_line(tmp_path: Path, options: readers.ReadOptions, message: str) -> None:
    path = tmp_path / "raw.csv"
    path.write_text("x,1\ny,2\n")
    with pytest.raises(DataError, match=message) as info:
        readers.read_raw(path, options)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("kind", ["csv", "tsv", "parquet", "jsonl"])
def test_a_file_without_extension_is_read_by_its_content(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "export"
    if kind == "parquet":
        FRAME.to_parquet(path, index=False)
    elif kind == "jsonl":
        FRAME.to_json(path, orient="records", lines=True)
    else:
        FRAME.to_csv(path, sep="\t" if kind == "tsv" else ",", index=False)
    frame, sources = readers.read_raw(path)
    assert frame.equals(FRAME.astype(frame.dtypes.to_dict())) and sources[0].format == kind
    frame, sources = readers.read_raw(path, readers.ReadOptions(format=kind))
    assert frame["text"].tolist() == FRAME["text"].tolist() and sources[0].format == kind


def test_an_explicit_format_reads_any_extension_and_refuses_a_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "raw.dat"
    FRAME.to_csv(path, sep="\t", index=False)
    with pytest.raises(DataError, match="set format"):
        readers.read_raw(path)
    frame, _ = readers.read_raw(path, readers.ReadOptions(format="tsv"))
    assert frame["label"].tolist() == ["pos", "neg", "neu"]
    FRAME.to_parquet(path, index=False)
    with pytest.raises(DataError, match="is a Parquet file, not csv"):
        readers.read_raw(path, readers.ReadOptions(format="csv"))


def test_a_folder_takes_files_without_extension_and_skips_others(tmp_path: Path) -> None:
    FRAME.iloc[:2].to_csv(tmp_path / "part-0000", index=False)
    FRAME.iloc[2:].to_csv(tmp_path / "part-0001.csv", index=False)
    (tmp_path / "notes.md").write_text("# not data")
    frame, sources = readers.read_raw(tmp_path)
    assert frame["label"].tolist() == ["pos", "neg", "neu"]
    assert [Path(s.path).name for s in sources] == ["part-0000", "part-0001.csv"]


def _records_as_pandas_has_them(raw: str, sep: str, quoting: str) -> int:
    """Records in ``raw``, header included: all but the lines of white space only (not the delimiter)."""
    space = " \t\r\n".replace(sep, "")
    if quoting == "none":  # no quotes: a record per line
        return sum(1 for line in raw.splitlines() if line.strip(space))
    last = [""]

    def lines() -> Iterator[str]:
        for line in io.StringIO(raw, newline=""):
            last[0] = line
            yield line

    reader = csv.reader(lines(), delimiter=sep)
    starts, records = 0, 0
    for row in reader:
        one_line, starts = reader.line_num == starts + 1, reader.line_num
        records += not (len(row) <= 1 and one_line and not last[0].strip(space))
    return records


_VALUE = st.text(alphabet=' ab,;"\t\r\n', max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(_VALUE, _VALUE), min_size=1, max_size=12),
    st.lists(st.tuples(st.integers(0, 11), st.integers(0, 8), st.sampled_from('",\n\r\t')), max_size=3),
    st.sampled_from([",", "\t"]),
    st.sampled_from(readers.QUOTING),
    st.sampled_from(readers.BAD_RECORDS),
)
def test_no_record_is_ever_lost_silently(tmp_path_factory, values, damage, sep, quoting, bad_records) -> None:
    """Whatever stray quotes, delimiters or line breaks a file has, each of its records becomes a
    row, or is dropped and counted (bad_records=drop), or the read fails in one line."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\n")
    writer.writerow(["text", "label"])
    for i, (a, b) in enumerate(values):
        writer.writerow([f"r{i}{a}", f"{b}x"])
    lines = out.getvalue().split("\n")
    for line, at, char in damage:  # damage a line after the header
        line = 1 + line % (len(lines) - 1)
        lines[line] = lines[line][:at] + char + lines[line][at:]
    path = tmp_path_factory.mktemp("raw") / "raw.txt"
    path.write_text("\n".join(lines))
    try:
        frame, sources = readers.read_raw(path, readers.ReadOptions(quoting=quoting, bad_records=bad_records))
    except DataError as exc:
        assert "\n" not in str(exc) and (bad_records != "drop" or "encoding" in str(exc))
        return
    source, raw = sources[0], path.read_text()
    assert source.records == _records_as_pandas_has_them(raw, source.delimiter, source.quoting) - 1, raw
    assert len(frame) == source.records - source.dropped, "a row for every record not dropped"
    assert source.dropped == (source.bad_records if bad_records == "drop" else 0)
    assert bad_records != "fail" or source.bad_records == 0


def test_quality_report_speaks_of_rows_for_tabular_and_texts_for_text() -> None:
    tabular = pd.DataFrame({"age": [30, 30, 41, 41], "label": ["a", "b", "c", "c"]})
    report = quality.assess(tabular, label_col="label", text_col=None, id_col=None, duplicates="keep")[2]
    joined = "\n".join(report.lines())
    assert "sets of rows with the same features appear with different labels" in joined
    assert "same features and label" in joined and "text" not in joined
    text = pd.DataFrame({"text": ["up", "up", "down", "down"], "label": ["a", "b", "c", "c"]})
    report = quality.assess(text, label_col="label", text_col="text", id_col=None, duplicates="keep")[2]
    joined = "\n".join(report.lines())
    assert "1 texts appear with different labels" in joined and "same text and label" in joined


def test_quality_rows_account_for_every_record() -> None:
    frame = pd.DataFrame({"text": ["a", "a", " ", "b", "c"], "label": ["x", "x", "y", None, "y"]})
    report = quality.assess(frame, label_col="label", text_col="text", id_col=None, duplicates="drop")[2]
    report.records_in_file = 7
    report.bad_records = {"found": 2, "dropped": 2, "action": "drop", "examples": []}
    rows = report.to_dict()["rows"]
    assert rows == {
        "records_in_file": 7,
        "read": 5,
        "dropped": {"bad_records": 2, "missing_label": 1, "empty_text": 1, "exact_duplicates": 1},
        "kept": 2,
    }
    assert rows["records_in_file"] == rows["kept"] + sum(rows["dropped"].values())
    assert "text" not in report.to_dict(), "the wording switch is not stored"


# -- headers, types across files, nested values, encodings ----------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("text,label,label", "'label' twice in its header (fields 2 and 3)"),
        ("text,label, label", "'label' and ' label' are one name once spaces around names are stripped"),
        ('"label",text,label', "'label' twice in its header (fields 1 and 3)"),
    ],
)
def test_a_header_naming_a_column_twice_is_refused(tmp_path: Path, header: str, message: str) -> None:
    (tmp_path / "raw.csv").write_text(header + "\nup,pos,pos\ndown,neg,neg\n")
    with pytest.raises(DataError, match=re.escape(message)) as caught:
        readers.read_raw(tmp_path / "raw.csv")
    assert "'raw.csv'" in str(caught.value)


def test_a_column_named_like_a_renamed_duplicate_is_its_own_column(tmp_path: Path) -> None:
    (tmp_path / "raw.csv").write_text("label,label.1,text\npos,neg,up\n")
    frame, _ = readers.read_raw(tmp_path / "raw.csv")
    assert list(frame.columns) == ["label", "label.1", "text"]
    assert frame.iloc[0].tolist() == ["pos", "neg", "up"]


def test_integers_in_one_file_and_decimals_in_another_are_read_as_decimals_and_noted(tmp_path: Path) -> None:
    pd.DataFrame({"amount": [1, 2], "note": ["a", "b"]}).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"amount": [2.5, None], "note": [None, None]}).to_csv(tmp_path / "b.csv", index=False)
    frame, sources = readers.read_raw(tmp_path)
    assert frame["amount"].dtype == np.float64 and frame["amount"].tolist()[:3] == [1.0, 2.0, 2.5]
    assert isinstance(frame["note"].dtype, pd.StringDtype), "a column without values takes the others' type"
    assert frame["note"].isna().tolist() == [False, False, True, True]
    assert sources[1].notes == (
        "column 'amount' holds integers in 'a.csv' and decimal numbers in 'b.csv': read as decimal numbers "
        "in every file",
    )


def test_numbers_in_one_file_and_text_in_another_are_refused_naming_both(tmp_path: Path) -> None:
    pd.DataFrame({"amount": [1, 2, 3], "label": list("abc")}).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"amount": ["4", "unknown", "6"], "label": list("abc")}).to_csv(
        tmp_path / "b.csv", index=False
    )
    with pytest.raises(DataError) as caught:
        readers.read_raw(tmp_path)
    assert str(caught.value).startswith(
        "column 'amount' holds integers in raw file 'a.csv' but text in 'b.csv' (row 2: 'unknown')"
    )


def test_dates_with_and_without_a_time_zone_are_refused_naming_both_types(tmp_path: Path) -> None:
    when = pd.date_range("2024-01-01", periods=3)
    pd.DataFrame({"when": when, "y": [1, 2, 3]}).to_parquet(tmp_path / "a.parquet")
    pd.DataFrame({"when": when.tz_localize("UTC"), "y": [1, 2, 3]}).to_parquet(tmp_path / "b.parquet")
    with pytest.raises(DataError, match=r"'when' is datetime64\[\w+\] in raw file 'a.parquet' but .*UTC"):
        readers.read_raw(tmp_path)


def test_json_numbers_and_strings_in_one_column_are_refused_with_the_row(tmp_path: Path) -> None:
    (tmp_path / "raw.jsonl").write_text(
        '{"age": 41, "y": "a"}\n{"age": 39, "y": "b"}\n{"age": "70y", "y": "a"}\n'
    )
    with pytest.raises(
        DataError, match=re.escape("'age' of raw file 'raw.jsonl' holds integers and text (row 3: '70y')")
    ):
        readers.read_raw(tmp_path / "raw.jsonl")


def _flat_frame(**columns: object) -> pd.DataFrame:
    frame = pd.DataFrame({"text": ["up", "down", "flat"], "label": ["a", "b", "a"], "n": [1, 2, 3]})
    for name, values in columns.items():
        frame[name] = values
    return frame


@pytest.mark.parametrize(
    ("frame", "text_col", "message"),
    [
        (
            _flat_frame(label=[np.array([0]), np.array([1]), None]),
            "text",
            "label_col 'label' holds lists (e.g. [0] in row 1)",
        ),
        (_flat_frame(text=[["up"], ["down"], ["flat"]]), "text", "text_col 'text' holds lists"),
        (
            _flat_frame(tags=[{"k": 1}, {"k": 2}, None]),
            None,
            "column 'tags' holds records (e.g. {'k': 1} in row 1)",
        ),
    ],
)
def test_lists_and_records_where_one_value_per_row_is_needed_are_refused(
    frame: pd.DataFrame, text_col: str | None, message: str
) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        quality.assess(frame, label_col="label", text_col=text_col, id_col=None, duplicates="keep")


def test_a_text_data_set_carries_a_list_column_it_does_not_read() -> None:
    frame = _flat_frame(entities=[["Nokia"], [], ["Kone", "Elisa"]])
    kept = quality.assess(frame, label_col="label", text_col="text", id_col=None, duplicates="keep")[0]
    assert kept["entities"].tolist() == [["Nokia"], [], ["Kone", "Elisa"]]


def test_a_file_half_utf8_half_cp1252_is_refused_naming_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_bytes("text,label\nup,a\nNestlé up,a\n".encode() + "down 5 €,b\nflat,a\n".encode("cp1252"))
    with pytest.raises(DataError) as caught:
        readers.read_raw(path)
    assert str(caught.value).startswith(
        "raw file 'raw.csv' mixes text encodings: line 3 holds UTF-8 ('é') but line 4 is not UTF-8 "
        "(byte 0x80, '€' in cp1252)"
    )
    assert "re-save the file as UTF-8" in str(caught.value)


def test_a_utf8_byte_order_mark_before_cp1252_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "text,label\nCafé,a\nup,b\n".encode("cp1252"))
    with pytest.raises(DataError, match="line 1 holds a UTF-8 byte-order mark but line 2 is not UTF-8"):
        readers.read_raw(path)


@pytest.mark.parametrize("shift", [-2, -1, 0, 1])
def test_mixed_encodings_are_found_across_block_boundaries_with_their_lines(
    tmp_path: Path, shift: int
) -> None:
    """A UTF-8 character cut by the scan's 1 MiB blocks is still one, on the right line; so is the
    last byte of a file that ends inside a sequence."""
    filler = b"text,label\n" + b"a,b\n" * 300_000
    at = (1 << 20) + shift  # "é" from here: before, across (-1) or after the first block's end
    body = filler[:at] + "é".encode() + filler[at:] + "ß".encode("cp1252")
    path = tmp_path / "raw.csv"
    path.write_bytes(body)
    line = body[:at].count(b"\n") + 1
    with pytest.raises(
        DataError, match=f"line {line} holds UTF-8 \\('é'\\) but line 300002 is not UTF-8 \\(byte 0xdf"
    ):
        readers._refuse_mixed_encoding(path, "cp1252")


def _utf8_sequence_by_regex(data: bytes) -> tuple[int, int] | None:
    """The same question answered by the Unicode standard's table of well-formed sequences."""
    found = re.search(
        rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
        rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
        rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}",
        data,
    )
    return (found.start(), len(found.group())) if found else None


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=12)
    | st.lists(
        st.sampled_from(
            [
                b"a",
                b"\xc3",
                b"\xa9",
                b"\xe2\x82",
                b"\xac",
                b"\xf0\x9f",
                b"\x98\x80",
                b"\xed\xa0\x80",
                b"\xe0\x80\x80",
            ]
        ),
        max_size=6,
    ).map(b"".join)
)
def test_the_utf8_sequence_finder_agrees_with_the_standard(data: bytes) -> None:
    assert readers._utf8_sequence(data) == _utf8_sequence_by_regex(data)
