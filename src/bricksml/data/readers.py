"""Read raw input files (CSV, TSV, Parquet, JSON Lines; one file or a folder) into one frame, losing nothing.

A delimited file is parsed by pandas' C reader, then cross-checked against the file's own bytes:
its line breaks and delimiters are counted while the file is hashed (about 0.03 s per 90 MB), and
the values that hold a delimiter are counted in the parsed columns. When the counts agree and no
value holds a line break, every record became one row with one value per header field. When they
do not, the file is scanned record by record (Python's csv module, physical line numbers; some
4 s per million records, so only then) and its bad records are named with their lines: *ragged*
(more or fewer fields than the header) or *merged* (one record over several lines: a quoted value
holds a line break, as a stray quote makes it).
``bad_records`` decides: ``fail`` (the default: nothing is lost silently), ``drop`` (recorded), or
``keep`` (as parsed; short records get missing values).

Tab-separated text has no quoting convention: by default (``quoting=auto``) a tab-delimited file is
read without quote processing, so a stray ``"`` in a text stays a character instead of joining the
lines that follow into one value. Comma (or semicolon, pipe) files use standard double quotes.

What would be read wrongly without a word is refused in one line instead: a header that names a
column twice (pandas would rename the second), a file that holds UTF-8 characters but is not UTF-8
as a whole (read in one encoding, the other half would become other characters), a column with two
kinds of values in one file (JSON numbers and strings) or across the files of a folder (integers
and decimal numbers excepted: read as decimals, and noted).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import itertools
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bricksml.data import arrow, quality
from bricksml.data.store import file_sha256
from bricksml.errors import DataError, first_line

FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
#: Values of the ``format`` parameter: ``auto`` takes a known extension, else judges the content.
FORMAT_CHOICES = ("auto", "csv", "tsv", "parquet", "jsonl")
#: Values of ``quoting``: ``auto`` is ``none`` for a tab delimiter and ``csv`` for any other.
QUOTING = ("auto", "none", "csv")
#: Values of ``bad_records``.
BAD_RECORDS = ("fail", "drop", "keep")
#: Tried in this order; the first that decodes the whole file wins and is recorded (a file that
#: is not UTF-8 but holds UTF-8 characters is refused: it mixes two).
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
_SNIFF_BYTES = 64 * 1024
_SCAN_BYTES = 1 << 20
#: Bytes of text pandas parses at a time (see :func:`_read_csv`): 91k rows a chunk of the 1M-row
#: benchmark file (95 bytes a row), whose reading then peaks 89 MB lower, in the same time.
_PARSE_BYTES = 8 << 20
#: Bad records kept as examples (in errors, notes and the manifest); all of them are counted.
EXAMPLES = 20
#: Bad records named in a one-line message.
_NAMED = 4
_PARQUET_MAGIC = b"PAR1"
#: White space that makes a line blank for pandas (which skips such lines); a tab only when it is
#: not the delimiter.
_BLANK = b" \r\n"


@dataclass(frozen=True)
class ReadOptions:
    """How to read the raw files: the reading half of the create_data contract."""

    format: str = "auto"
    header: bool = True
    columns: tuple[str, ...] = ()
    quoting: str = "auto"
    bad_records: str = "fail"


@dataclass(frozen=True)
class BadRecord:
    """A record that is not one line of exactly the header's fields; lines are 1-based, physical."""

    file: str
    line: int
    last_line: int
    fields: int
    expected: int

    @property
    def kind(self) -> str:
        return "merged" if self.last_line > self.line else "ragged"

    def describe(self) -> str:
        if self.kind == "merged":
            return f"lines {self.line}-{self.last_line} are one record of {_fields(self.fields)}"
        return f"line {self.line} has {_fields(self.fields)}"

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "last_line": self.last_line,
            "kind": self.kind,
            "fields": self.fields,
            "expected": self.expected,
        }


@dataclass(frozen=True)
class SourceFile:
    """One raw file as it was read: where, what, how, its content hash for lineage, and its records.

    ``records`` counts the data records in the file (header and blank lines aside); ``rows`` the
    rows read from it: ``records - dropped``. ``bad_records`` counts the bad records found.
    """

    path: str
    sha256: str
    rows: int
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    quoting: str | None = None
    header: bool | None = None
    records: int = 0
    bad_records: int = 0
    dropped: int = 0
    examples: tuple[BadRecord, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """The manifest's entry (bad-record examples go to the quality report instead)."""
        out = {
            "path": self.path,
            "sha256": self.sha256,
            "rows": self.rows,
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "records": self.records,
            "bad_records": self.bad_records,
            "dropped": self.dropped,
        }
        if self.quoting is not None:
            out["quoting"] = self.quoting
            out["header"] = self.header
        return out


def list_raw_files(path: Path) -> list[Path]:
    """The files at ``path`` with a known extension: the file itself, or those in the folder.

    For readers that pick the format by extension (inference input); create_data uses
    :func:`raw_files`, which also takes files without an extension.
    """
    if path.is_file():
        if path.suffix.lower() not in FORMATS:
            raise DataError(
                f"raw_path {str(path)!r} is not a supported file; use one of {', '.join(sorted(FORMATS))}"
            )
        return [path]
    if path.is_dir():
        supported = [p for p in _visible_files(path) if p.suffix.lower() in FORMATS]
        if not supported:
            raise DataError(
                f"raw_path {str(path)!r} holds no CSV, TSV, Parquet or JSON Lines file; "
                "put the raw files there or pass raw_path"
            )
        return supported
    raise DataError(f"raw_path {str(path)!r} does not exist; pass an existing file or folder")


def raw_files(path: Path, fmt: str = "auto") -> list[tuple[Path, str]]:
    """The files to read at ``path``, each with its format ("auto": judged from its content).

    With ``fmt="auto"`` a known extension decides; a file without an extension is judged from its
    content; any other extension is refused for a file and skipped in a folder. An explicit
    ``fmt`` reads every file at ``path`` (hidden and ``_`` files aside) in that format.
    """
    if fmt not in FORMAT_CHOICES:
        raise DataError(f"format {fmt!r} is not one of {', '.join(FORMAT_CHOICES)}")
    if path.is_file():
        declared = _declared_format(path, fmt)
        if declared is None:
            raise DataError(
                f"raw_path {str(path)!r} is not a supported file; use one of {', '.join(sorted(FORMATS))}, "
                "a file without extension, or set format (csv, tsv, parquet, jsonl) to read it as one"
            )
        return [(path, declared)]
    if path.is_dir():
        chosen = [(p, f) for p in _visible_files(path) if (f := _declared_format(p, fmt)) is not None]
        if not chosen:
            raise DataError(
                f"raw_path {str(path)!r} holds no CSV, TSV, Parquet or JSON Lines file; "
                "put the raw files there, pass raw_path, or set format to read files of another extension"
            )
        return chosen
    raise DataError(f"raw_path {str(path)!r} does not exist; pass an existing file or folder")


def _visible_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "_")))


def _declared_format(path: Path, fmt: str) -> str | None:
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    return "auto" if not suffix else None


def sniff_format(head: bytes) -> str:
    """The format of a file from its first bytes: Parquet's magic, a JSON object, else delimited text."""
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{"):
        return "jsonl"
    return "delimited"


def read_raw(path: Path, options: ReadOptions | None = None) -> tuple[pd.DataFrame, list[SourceFile]]:
    """Read one file or a folder of files that share their columns."""
    options = options or ReadOptions()
    if options.columns and options.header:
        raise DataError(
            "columns names the fields of files without a header row: set header=false to use them, "
            "or leave columns empty to take the names from the header"
        )
    if not options.header and not options.columns:
        raise DataError("header=false needs columns: the names of the fields, comma-separated")
    frames, sources = [], []
    for file, fmt in raw_files(path, options.format):
        frame, source = _read_one(file, fmt, options)
        if frames and list(frame.columns) != list(frames[0].columns):
            raise DataError(
                f"raw file {file.name!r} has columns {list(frame.columns)} but "
                f"{Path(sources[0].path).name!r} has {list(frames[0].columns)}; "
                "all raw files of a data set need the same columns"
            )
        frames.append(frame)
        sources.append(source)
        arrow.release_memory()  # the parser's Python strings, before the next file or step
    if len(frames) == 1:
        return frames[0], sources
    sources = _reconcile_types(frames, sources)
    frame = pd.concat(frames, ignore_index=True)
    _check_concatenated(frame, frames, sources)
    return frame, sources


def _reconcile_types(frames: list[pd.DataFrame], sources: list[SourceFile]) -> list[SourceFile]:
    """One kind of value per column across the files, or a refusal naming the column and both files.

    Integers in one file and decimal numbers in another are read as decimal numbers (noted); a
    column without a value in a file takes the type of the others. Anything else (numbers and
    text, text and dates) is refused: concatenated, such a column would be neither.
    """
    names = [Path(s.path).name for s in sources]
    sources = list(sources)
    for column in frames[0].columns:
        kinds = [quality.column_kind(f[column]) for f in frames]
        filled = [i for i, kind in enumerate(kinds) if kind != quality.NO_VALUES]
        if not filled:
            continue
        first = filled[0]
        for i in filled[1:]:
            if quality.family(kinds[i]) != quality.family(kinds[first]):
                raise DataError(_type_conflict(column, frames, names, kinds, first, i))
        target = frames[first][column].dtype
        # Missing text or dates stay missing when cast; numbers (NaN) and booleans (objects) need
        # no cast, and a cast of NaN to bool would make it True.
        castable = isinstance(target, pd.StringDtype) or pd.api.types.is_datetime64_any_dtype(target)
        for i, kind in enumerate(kinds):
            if castable and kind == quality.NO_VALUES and frames[i][column].dtype != target:
                try:
                    frames[i][column] = frames[i][column].astype(target)
                except (TypeError, ValueError):  # concat decides
                    pass
        ints = [names[i] for i in filled if kinds[i] == "integers"]
        decimals = [names[i] for i in filled if kinds[i] == "decimal numbers"]
        if ints and decimals:
            last = max(filled)
            note = (
                f"column {str(column)!r} holds integers in {ints[0]!r} and decimal numbers in "
                f"{decimals[0]!r}: read as decimal numbers in every file"
            )
            sources[last] = dataclasses.replace(sources[last], notes=(*sources[last].notes, note))
    return sources


def _type_conflict(
    column: object, frames: list[pd.DataFrame], names: list[str], kinds: list[str], first: int, other: int
) -> str:
    """The one line that names a column of two kinds: both files, both kinds, a value of the other."""
    values = frames[other][column]
    if quality.family(kinds[first]) == "numbers" and kinds[other] == "text":
        odd = values.notna() & pd.to_numeric(values, errors="coerce").isna()
    else:
        odd = values.notna()
    row = int(np.flatnonzero(odd.to_numpy())[0])
    return (
        f"column {str(column)!r} holds {kinds[first]} in raw file {names[first]!r} but {kinds[other]} "
        f"in {names[other]!r} (row {row + 1}: {quality.show(values.iloc[row])}); the raw files of a data "
        f"set need one type per column: fix {names[other]!r}, or make the column {kinds[other]} in "
        "every file"
    )


def _check_concatenated(frame: pd.DataFrame, frames: list[pd.DataFrame], sources: list[SourceFile]) -> None:
    """A column that only concatenation made a column of Python objects holds types that do not mix
    (dates with and without a time zone, ...): refuse it, naming both types."""
    for column in frame.columns:
        if not pd.api.types.is_object_dtype(frame[column].dtype):
            continue
        typed = [
            (s, f[column].dtype) for s, f in zip(sources, frames, strict=True) if f[column].notna().any()
        ]
        if any(pd.api.types.is_object_dtype(d) for _, d in typed):
            continue
        pair = next(((x, y) for x, y in itertools.pairwise(typed) if str(x[1]) != str(y[1])), None)
        if pair is None:
            continue
        (a, da), (b, db) = pair
        raise DataError(
            f"column {str(column)!r} is {da} in raw file {Path(a.path).name!r} but {db} in "
            f"{Path(b.path).name!r}; the raw files of a data set need one type per column: fix one of them"
        )


def _read_one(file: Path, fmt: str, options: ReadOptions) -> tuple[pd.DataFrame, SourceFile]:
    with file.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    sniffed = sniff_format(head)
    if fmt == "auto":
        fmt = sniffed if sniffed != "delimited" else "csv"
    elif sniffed == "parquet" and fmt != "parquet":
        raise DataError(f"raw file {file.name!r} is a Parquet file, not {fmt}; set format=parquet or auto")
    if fmt in ("parquet", "jsonl") and (not options.header or options.columns):
        raise DataError(
            f"raw file {file.name!r} is {fmt}: header=false and columns apply to CSV and TSV files only"
        )
    try:
        if fmt in ("csv", "tsv"):
            frame, source = _read_delimited(file, head, "\t" if fmt == "tsv" else None, options)
        else:
            with ThreadPoolExecutor(max_workers=1) as pool:  # hashlib releases the GIL: hash while parsing
                digest = pool.submit(file_sha256, file)
                if fmt == "parquet":
                    frame = pd.read_parquet(file)
                else:
                    frame = pd.read_json(file, lines=True, dtype=False)
                source = SourceFile(str(file.resolve()), digest.result(), len(frame), fmt, records=len(frame))
    except DataError:
        raise
    except (ValueError, OSError, pd.errors.ParserError, csv.Error) as exc:
        raise DataError(f"raw file {file.name!r} could not be read as {fmt}: {first_line(exc)}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise DataError(f"raw file {file.name!r} has the column {dup!r} twice; rename one")
    _refuse_mixed_values(file, frame)
    return frame, source


def _refuse_mixed_values(file: Path, frame: pd.DataFrame) -> None:
    """A column of one file that holds two kinds of values (JSON numbers and strings) is refused.

    Only columns of Python objects can: CSV columns and Parquet columns have one type each.
    """
    for name in frame.columns:
        found = quality.mixed_values(frame[name])
        if found:
            first, other, row, value = found
            raise DataError(
                f"column {name!r} of raw file {file.name!r} holds {first} and {other} (row {row + 1}: "
                f"{quality.show(value)}); a column holds one type of value: fix the file (e.g. quote "
                "every value of the column to make it text)"
            )


# -- delimited text ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _ByteCounts:
    """What one pass over a file's bytes finds, next to its hash."""

    sha256: str
    size: int
    newlines: int
    delimiters: int
    lone_cr: bool  # a carriage return not followed by a line feed: a line break for the parsers
    last: int  # the last byte, -1 for an empty file


def _hash_and_count(file: Path, delimiter: str) -> _ByteCounts:
    """Hash the file and count its line feeds and delimiters, block by block (NumPy, GIL released)."""
    digest = hashlib.sha256()
    mark = ord(delimiter)
    newlines = delimiters = size = 0
    lone_cr = False
    last = -1
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(_SCAN_BYTES), b""):
            digest.update(block)
            data = np.frombuffer(block, dtype=np.uint8)
            newlines += int(np.count_nonzero(data == 10))
            delimiters += int(np.count_nonzero(data == mark))
            if not lone_cr and (last == 13 or block.find(b"\r") >= 0):
                if last == 13 and data[0] != 10:
                    lone_cr = True
                cr = np.flatnonzero(data[:-1] == 13)
                lone_cr = lone_cr or bool((data[cr + 1] != 10).any())
            size += len(block)
            last = int(data[-1])
    if last == 13:
        lone_cr = True
    return _ByteCounts(digest.hexdigest(), size, newlines, delimiters, lone_cr, last)


def _read_delimited(
    file: Path, head: bytes, delimiter: str | None, options: ReadOptions
) -> tuple[pd.DataFrame, SourceFile]:
    if not head.strip():
        raise DataError(f"raw file {file.name!r} is empty")
    encoding, sample = _decode_sample(file, head)
    sep = delimiter or _sniff_delimiter(sample)
    quoting = options.quoting if options.quoting != "auto" else ("none" if sep == "\t" else "csv")
    if options.columns:
        _check_column_count(file, sample, sep, quoting, options.columns)
    else:
        _check_header(file, sample, sep, quoting)
    rows = _rows_per_chunk(head)
    with ThreadPoolExecutor(max_workers=1) as pool:
        counted = pool.submit(_hash_and_count, file, sep)
        frame, encoding = _parse(file, encoding, sep, quoting, options, rows)
        counts = counted.result()
    if not encoding.startswith("utf-8"):
        _refuse_mixed_encoding(file, encoding)
    records = _records_if_consistent(file, frame, counts, sep, options.header) if frame is not None else None
    examples: list[BadRecord] = []
    bad = dropped = 0
    if records is None:  # the counts disagree, or values hold line breaks: look at every record
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as out:
            writing = options.bad_records != "fail"  # else the kept records are rarely needed
            scan = _scan_records(file, encoding, sep, quoting, options, out if writing else None)
            records, bad, examples = scan.records, scan.bad, scan.examples
            if bad:
                _refuse(file, scan, quoting, options.bad_records)
                dropped = bad if options.bad_records == "drop" else 0
            if bad or frame is None or len(frame) != records:
                if not writing:
                    _scan_records(file, encoding, sep, quoting, options, out)
                out.seek(0)  # the kept records as standard CSV: pandas parses them as it does the file
                frame = _read_csv(out, rows)
    notes = _quote_notes(file, frame) if quoting == "none" else ()
    source = SourceFile(
        path=str(file.resolve()),
        sha256=counts.sha256,
        rows=len(frame),
        format="tsv" if sep == "\t" else "csv",
        encoding=encoding.replace("-sig", ""),
        delimiter=sep,
        quoting=quoting,
        header=options.header,
        records=records,
        bad_records=bad,
        dropped=dropped,
        examples=tuple(examples),
        notes=notes,
    )
    return frame, source


def _decode_sample(file: Path, head: bytes) -> tuple[str, str]:
    """The first encoding that decodes the head (the whole file is checked when parsing)."""
    for encoding in ENCODINGS:
        try:
            return encoding, head.decode(encoding, errors="ignore" if len(head) == _SNIFF_BYTES else "strict")
        except UnicodeDecodeError:
            continue
    raise DataError(f"raw file {file.name!r} is in no known text encoding ({', '.join(ENCODINGS)})")


def _refuse_mixed_encoding(file: Path, encoding: str) -> None:
    """Refuse a file that is not UTF-8 as a whole but holds UTF-8 characters: two encodings.

    Read in one encoding, the other part would become other characters without a trace ("Nestlé"
    as "NestlÃ©"). Named: the first line with a UTF-8 character and the first line that is not UTF-8.
    Only files that are not UTF-8 are scanned (once, block by block).
    """
    bad: tuple[int, int] | None = None  # (line, byte)
    good: tuple[int, str] | None = None  # (line, character)
    decoder = codecs.getincrementaldecoder("utf-8")()
    tail, line = b"", 1  # the previous block's last bytes (a sequence may straddle), the block's line
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(_SCAN_BYTES), b""):
            if good is None and (found := _utf8_sequence(tail + block)):
                at, size = found
                good = (
                    line + block.count(b"\n", 0, max(0, at - len(tail))),
                    (tail + block)[at : at + size].decode(),
                )
            if bad is None:
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    at = exc.start - pending  # in the block (negative: in the bytes held from the last)
                    data = tail + block
                    bad = (line + block.count(b"\n", 0, max(at, 0)), data[len(tail) + at])
            if good is not None and bad is not None:
                break
            tail, line = block[-3:], line + block.count(b"\n")
        else:
            pending = decoder.getstate()[0]
            if bad is None and pending:  # the file ends inside a sequence
                bad = (line, pending[0])
    if good is None or bad is None:
        return
    char = bytes([bad[1]]).decode(encoding, errors="replace")
    utf8 = "a UTF-8 byte-order mark" if good[1] == "\ufeff" else f"UTF-8 ({good[1]!r})"
    raise DataError(
        f"raw file {file.name!r} mixes text encodings: line {good[0]} holds {utf8} but line "
        f"{bad[0]} is not UTF-8 (byte 0x{bad[1]:02x}, {char!r} in {encoding}); bricksml reads a file in "
        "one encoding (there is no encoding parameter): re-save the file as UTF-8 and run again"
    )


def _utf8_sequence(data: bytes) -> tuple[int, int] | None:
    """The first well-formed UTF-8 sequence of two to four bytes in ``data``: (start, length).

    In cp1252 text such sequences are themselves mojibake ("Ã©"), so a file that is not UTF-8
    but holds one mixes encodings. NumPy over the non-ASCII lead bytes: some 0.2 s per 50 MB,
    a tenth of what a regular expression takes.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    lead_at = np.flatnonzero((raw >= 0xC2) & (raw <= 0xF4))
    if not len(lead_at):
        return None
    padded = np.concatenate([raw, np.zeros(3, np.uint8)])  # a sequence cut by the end is no sequence
    lead, b1, b2, b3 = (padded[lead_at + k] for k in range(4))
    c1, c2, c3 = ((b & 0xC0) == 0x80 for b in (b1, b2, b3))
    two = (lead <= 0xDF) & c1
    three = (lead >= 0xE0) & (lead <= 0xEF) & c1 & c2
    three &= ~((lead == 0xE0) & (b1 < 0xA0)) & ~((lead == 0xED) & (b1 > 0x9F))  # overlong, surrogates
    four = (lead >= 0xF0) & c1 & c2 & c3 & ~((lead == 0xF0) & (b1 < 0x90)) & ~((lead == 0xF4) & (b1 > 0x8F))
    hits = np.flatnonzero(two | three | four)
    if not len(hits):
        return None
    first = hits[0]
    return int(lead_at[first]), 2 if two[first] else 3 if three[first] else 4


def _check_header(file: Path, sample: str, sep: str, quoting: str) -> None:
    """Refuse a header that names a column twice (once spaces around names are stripped).

    Read from the file itself: pandas renames a second ``Sentiment`` to ``Sentiment.1`` without a
    word, and the strip that follows would make ``Sentiment`` and `` Sentiment`` one name.
    """
    header = next(_records(io.StringIO(sample), sep, quoting), None)
    if header is None:
        return
    seen: dict[str, int] = {}
    for position, raw in enumerate(header[1], start=1):
        name = raw.strip()
        if name in seen:
            before = header[1][seen[name] - 1]
            fields = f"fields {seen[name]} and {position}"
            if raw != before:
                fields += f": {before!r} and {raw!r} are one name once spaces around names are stripped"
            raise DataError(
                f"raw file {file.name!r} has the column {name!r} twice in its header ({fields}); rename one"
            )
        seen[name] = position


def _read_csv_options(sep: str, quoting: str, options: ReadOptions) -> dict:
    kwargs: dict = {"sep": sep, "quoting": csv.QUOTE_NONE if quoting == "none" else csv.QUOTE_MINIMAL}
    if not options.header:
        kwargs.update(header=None, names=list(options.columns))
    return kwargs


def _rows_per_chunk(head: bytes) -> int:
    """Rows of about :data:`_PARSE_BYTES` of text, judged from the lines of the file's head."""
    lines = head.count(b"\n") or 1
    return max(1_000, _PARSE_BYTES * lines // max(len(head), 1))


def _read_csv(source: Path | TextIO, rows: int, **options: object) -> pd.DataFrame:
    """``pandas.read_csv(source, **options)``, parsed ``rows`` at a time for less memory.

    pandas turns text into Python strings before it stores them in Arrow: the strings of a whole
    file at once cost more than the file (the 1M-row benchmark file, 90.5 MB, took 212 MB above the
    interpreter at once, 122 MB chunk by chunk). pandas infers each column's type chunk by chunk
    anyway (and joins them), so chunks that agree on every column's type and continue the row
    numbers make exactly the frame of a whole-file parse. Where they do not (numbers in one chunk,
    text in the next; a first column taken as the index), the source is parsed again in one go,
    which gives pandas' own answer for it.
    """
    start = source.tell() if not isinstance(source, Path) else 0
    with pd.read_csv(source, chunksize=rows, **options) as reader:
        chunks = list(reader)
    if not chunks:  # a header without records: pandas' own empty frame
        return pd.read_csv(_rewound(source, start), **options)
    first, at, same = chunks[0], 0, True
    for chunk in chunks:
        plain = isinstance(chunk.index, pd.RangeIndex) and chunk.index.equals(
            pd.RangeIndex(at, at + len(chunk))
        )
        same = same and plain and chunk.dtypes.equals(first.dtypes)
        at += len(chunk)
    if same:
        return first if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    del chunks, first, chunk
    return pd.read_csv(_rewound(source, start), **options)


def _rewound(source: Path | TextIO, start: int) -> Path | TextIO:
    if not isinstance(source, Path):
        source.seek(start)
    return source


def _parse(
    file: Path, encoding: str, sep: str, quoting: str, options: ReadOptions, rows: int
) -> tuple[pd.DataFrame | None, str]:
    """pandas' fast parse in the first encoding that decodes the whole file; None if pandas refuses
    the records (too many fields, a quote never closed): the record scan then says which."""
    last_error: Exception | None = None
    for candidate in ENCODINGS[ENCODINGS.index(encoding) :]:
        try:
            return _read_csv(
                file, rows, encoding=candidate, **_read_csv_options(sep, quoting, options)
            ), candidate
        except UnicodeDecodeError as exc:
            last_error = exc
            continue
        except pd.errors.EmptyDataError:
            raise DataError(f"raw file {file.name!r} is empty") from None
        except pd.errors.ParserError:
            return None, candidate
    raise DataError(f"raw file {file.name!r} is in no known text encoding ({last_error})")


def _records_if_consistent(
    file: Path, frame: pd.DataFrame, counts: _ByteCounts, sep: str, header: bool
) -> int | None:
    """The number of data records when the byte counts prove one row per record, else None.

    Every line is a record (or a blank line, which pandas skips) and every record has the header's
    number of fields exactly when: no value holds a line break, the line breaks outside values are
    the records plus the blank lines, and the delimiters outside values are (fields - 1) per record.
    A short record (padded by pandas), a long one, a merged one or an implicit index breaks one of
    these equalities; blank lines are counted at the file's ends, anywhere else they take the scan.
    """
    if counts.lone_cr or not isinstance(frame.index, pd.RangeIndex):
        return None
    inner_newlines, inner_delimiters = _inner_counts(frame, sep)
    if header:
        names = [str(c) for c in frame.columns]
        inner_newlines += sum(n.count("\n") for n in names)
        inner_delimiters += sum(n.count(sep) for n in names)
    if inner_newlines:
        return None
    lines = len(frame) + (1 if header else 0)
    if counts.delimiters - inner_delimiters != lines * (frame.shape[1] - 1):
        return None
    physical = counts.newlines + (0 if counts.last == 10 else 1)
    if physical == lines:
        return len(frame)
    blank = _blank_lines_at_ends(file, counts, sep)
    return len(frame) if blank is not None and physical - blank == lines else None


def _blank_lines_at_ends(file: Path, counts: _ByteCounts, sep: str) -> int | None:
    """Blank lines before the first and after the last non-blank byte; None if an end is all blank."""
    blank = _BLANK if sep == "\t" else _BLANK + b"\t"
    with file.open("rb") as handle:
        head = handle.read(4096).removeprefix(b"\xef\xbb\xbf")
        handle.seek(max(0, counts.size - 4096))
        tail = handle.read()
    lead, trail = head[: len(head) - len(head.lstrip(blank))], tail[len(tail.rstrip(blank)) :]
    if len(lead) == len(head) or len(trail) == len(tail):
        return None
    return lead.count(b"\n") + max(0, trail.count(b"\n") - (1 if counts.last == 10 else 0))


def _inner_counts(frame: pd.DataFrame, sep: str) -> tuple[int, int]:
    """Line feeds and delimiters inside the parsed values (only text can hold them)."""
    newlines = delimiters = 0
    mark = ord(sep)
    for _, values in frame.items():
        dtype = values.dtype
        if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
            arr = pa.array(values.array)
            for chunk in arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]:
                data = _string_bytes(chunk)
                newlines += int(np.count_nonzero(data == 10))
                delimiters += int(np.count_nonzero(data == mark))
        elif pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
            text = values.dropna().astype(str)
            newlines += int(text.str.count("\n").sum())
            delimiters += int(text.str.count(_regex_literal(sep)).sum())
    return newlines, delimiters


def _regex_literal(char: str) -> str:
    return "\\" + char if char in ".^$*+?{}[]\\|()" else char


def _string_bytes(chunk: pa.Array) -> np.ndarray:
    """The bytes of the values of one Arrow string chunk (no copy)."""
    _, offsets, data = chunk.buffers()
    if data is None or not len(chunk):
        return np.empty(0, dtype=np.uint8)
    width = np.int64 if chunk.type == pa.large_string() else np.int32
    bounds = np.frombuffer(offsets, dtype=width)[chunk.offset : chunk.offset + len(chunk) + 1]
    return np.frombuffer(data, dtype=np.uint8)[bounds[0] : bounds[-1]]


def _quote_notes(file: Path, frame: pd.DataFrame) -> tuple[str, ...]:
    """Read without quote processing, many values wrapped in quotes suggest the file does quote."""
    notes = []
    for name, values in frame.items():
        if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
            continue
        arr = pa.array(values.array)
        wrapped = pc.sum(pc.and_(pc.starts_with(arr, '"'), pc.ends_with(arr, '"'))).as_py() or 0
        if wrapped and wrapped >= 0.01 * len(frame):
            notes.append(
                f"{wrapped} values of column {str(name)!r} in {file.name!r} are wrapped in double quotes "
                "(read as they are, quoting=none); if the file quotes its values, set quoting=csv"
            )
    return tuple(notes)


def _check_column_count(file: Path, sample: str, sep: str, quoting: str, columns: tuple[str, ...]) -> None:
    for line, row in _records(io.StringIO(sample), sep, quoting):
        if len(row) != len(columns):
            raise DataError(
                f"columns gives {len(columns)} names but the first record of raw file {file.name!r} "
                f"(line {line[0]}) has {len(row)} fields; give one name per field, comma-separated"
            )
        return


def _records(handle: TextIO, sep: str, quoting: str) -> Iterator[tuple[tuple[int, int], list[str]]]:
    """Each non-blank record with its first and last physical line (1-based).

    Blank as pandas has it: a line of white space only (``""`` is a record of one empty value).
    """
    lines = _Lines(handle)
    mode = csv.QUOTE_NONE if quoting == "none" else csv.QUOTE_MINIMAL
    reader = csv.reader(lines, delimiter=sep, quoting=mode)
    last = 0
    for row in reader:
        first, last = last + 1, reader.line_num
        if len(row) <= 1 and first == last and not lines.last.strip(" \t\r\n"):
            continue
        yield (first, last), row


class _Lines:
    """The lines of a file, remembering the last one read (to tell a blank line from ``""``)."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.last = ""

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        self.last = next(self.handle)
        return self.last


@dataclass
class _Scan:
    records: int = 0
    bad: int = 0
    too_long: int = 0
    expected: int = 0
    examples: list[BadRecord] = field(default_factory=list)


class _FieldLimit:
    """Lift the csv module's 128 KiB limit per value for one scan: a merged value can be larger."""

    def __enter__(self) -> None:
        self.before = csv.field_size_limit(2**31 - 1)

    def __exit__(self, *exc: object) -> None:
        csv.field_size_limit(self.before)


def _scan_records(
    file: Path, encoding: str, sep: str, quoting: str, options: ReadOptions, out: TextIO | None = None
) -> _Scan:
    """Every record of the file: counted, the bad ones described; the kept ones written to ``out``."""
    scan = _Scan(expected=len(options.columns))
    # "\r\n": values holding either character get quoted (with "\n" alone a lone "\r" would not)
    writer = csv.writer(out, lineterminator="\r\n") if out is not None else None
    if writer is not None and not options.header:
        writer.writerow(options.columns)
    with _FieldLimit(), file.open(encoding=encoding, newline="") as handle:
        for (first, last), row in _records(handle, sep, quoting):
            if not scan.expected:  # the header
                scan.expected = len(row)
                if writer is not None:
                    writer.writerow(row)
                continue
            scan.records += 1
            good = len(row) == scan.expected and (
                first == last or not _swallows_records(row, sep, scan.expected)
            )
            if not good:
                scan.bad += 1
                scan.too_long += len(row) > scan.expected
                if len(scan.examples) < EXAMPLES:
                    scan.examples.append(BadRecord(file.name, first, last, len(row), scan.expected))
            if writer is not None and (good or options.bad_records == "keep"):
                writer.writerow(row + [""] * (scan.expected - len(row)))
    return scan


def _swallows_records(row: list[str], sep: str, expected: int) -> bool:
    """Whether a record over several lines holds whole records in a value: a stray quote merged them.

    A quoted value may hold line breaks (a review of two paragraphs); a line inside it that has as
    many delimiters as a record has between its fields is another record swallowed by an
    unclosed quote, not text.
    """
    return any(
        line.count(sep) >= expected - 1 for value in row if "\n" in value for line in value.split("\n")[1:]
    )


def _refuse(file: Path, scan: _Scan, quoting: str, policy: str) -> None:
    """Fail with one line naming the bad records, unless the policy takes them."""
    if policy == "drop" or (policy == "keep" and not scan.too_long):
        return
    named = "; ".join(b.describe() for b in scan.examples[:_NAMED])
    more = f"; and {scan.bad - _NAMED} more" if scan.bad > _NAMED else ""
    what = (
        f"raw file {file.name!r}: {scan.bad} of {scan.records} records are not one line of "
        f"{_fields(scan.expected)}"
    )
    if policy == "keep":
        raise DataError(
            f"{what} ({named}{more}); a record with more fields than the header cannot be kept: "
            "fix the file or set bad_records=drop"
        )
    merged = any(b.kind == "merged" for b in scan.examples)
    if merged and quoting == "csv":
        advice = (
            "a double quote that opens a value joins the lines up to the next quote: fix the file, "
            "set quoting=none if quotes in it do not quote, bad_records=keep if values really hold "
            "line breaks, or bad_records=drop to drop these records (recorded in the manifest)"
        )
    else:
        advice = (
            "fix the file, set bad_records=drop to drop these records (recorded in the manifest), "
            "or bad_records=keep to keep short ones with missing values"
        )
    raise DataError(f"{what} ({named}{more}); {advice}")


def _sniff_delimiter(sample: str) -> str:
    lines = sample.splitlines()
    if len(lines) > 1 and not sample.endswith("\n"):
        lines = lines[:-1]  # the sample may end mid-line
    try:
        return csv.Sniffer().sniff("\n".join(lines[:200]), delimiters=",;\t|").delimiter
    except csv.Error:
        reader = csv.reader(io.StringIO(lines[0] if lines else ""))
        header = next(reader, [])
        return "," if len(header) > 1 or not lines else max(",;\t|", key=lines[0].count)


def text_format(file: Path, delimiter: str | None = None) -> tuple[str, str]:
    """Encoding and delimiter of a delimited text file, judged from its first 64 KiB.

    For streaming readers that cannot afford to decode the whole file first.
    """
    with file.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head.strip():
        raise DataError(f"file {file.name!r} is empty")
    for encoding in ENCODINGS:
        try:
            sample = head.decode(encoding)
        except UnicodeDecodeError as exc:
            if len(head) == _SNIFF_BYTES and exc.start >= len(head) - 4:  # cut mid-character
                sample = head[: exc.start].decode(encoding)
            else:
                continue
        return encoding.replace("-sig", ""), delimiter or _sniff_delimiter(sample)
    raise DataError(f"file {file.name!r} is in no known text encoding")


def _fields(n: int) -> str:
    return f"{n} field" if n == 1 else f"{n} fields"
