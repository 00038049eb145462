"""Read raw input files (CSV, TSV, Parquet, JSON Lines; one file or a folder) into one frame."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from bricksml.data.store import file_sha256
from bricksml.errors import DataError

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
#: Tried in this order; the first that decodes the whole file wins and is recorded.
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class SourceFile:
    """One raw file as it was read: where, what, and its content hash for lineage."""

    path: str
    sha256: str
    rows: int
    format: str
    encoding: str | None = None
    delimiter: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def list_raw_files(path: Path) -> list[Path]:
    """The files to read at ``path``: the file itself, or every supported file in the folder."""
    if path.is_file():
        if path.suffix.lower() not in FORMATS:
            raise DataError(
                f"raw_path {str(path)!r} is not a supported file; use one of {', '.join(sorted(FORMATS))}"
            )
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "_")))
        supported = [p for p in files if p.suffix.lower() in FORMATS]
        if not supported:
            raise DataError(
                f"raw_path {str(path)!r} holds no CSV, TSV, Parquet or JSON Lines file; "
                "put the raw files there or pass raw_path"
            )
        return supported
    raise DataError(f"raw_path {str(path)!r} does not exist; pass an existing file or folder")


def read_raw(path: Path) -> tuple[pd.DataFrame, list[SourceFile]]:
    """Read one file or a folder of files that share their columns."""
    frames, sources = [], []
    for file in list_raw_files(path):
        frame, source = _read_one(file)
        if frames and list(frame.columns) != list(frames[0].columns):
            raise DataError(
                f"raw file {file.name!r} has columns {list(frame.columns)} but "
                f"{Path(sources[0].path).name!r} has {list(frames[0].columns)}; "
                "all raw files of a data set need the same columns"
            )
        frames.append(frame)
        sources.append(source)
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return frame, sources


def _read_one(file: Path) -> tuple[pd.DataFrame, SourceFile]:
    fmt = FORMATS[file.suffix.lower()]
    encoding = delimiter = None
    with ThreadPoolExecutor(max_workers=1) as pool:  # hashlib releases the GIL: hash while parsing
        digest = pool.submit(file_sha256, file)
        try:
            if fmt == "parquet":
                frame = pd.read_parquet(file)
            elif fmt == "jsonl":
                frame = pd.read_json(file, lines=True, dtype=False)
            else:
                frame, encoding, delimiter = _read_delimited(file, "\t" if fmt == "tsv" else None)
        except DataError:
            raise
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"raw file {file.name!r} could not be read as {fmt}: {first_line}") from exc
    digest = digest.result()
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise DataError(f"raw file {file.name!r} has the column {dup!r} twice; rename one")
    frame.columns = [str(c).strip() for c in frame.columns]
    source = SourceFile(str(file.resolve()), digest, len(frame), fmt, encoding, delimiter)
    return frame, source


def _read_delimited(file: Path, delimiter: str | None) -> tuple[pd.DataFrame, str, str]:
    with file.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head.strip():
        raise DataError(f"raw file {file.name!r} is empty")
    last_error: Exception | None = None
    for encoding in ENCODINGS:
        try:
            sample = head.decode(encoding, errors="ignore" if len(head) == _SNIFF_BYTES else "strict")
        except UnicodeDecodeError as exc:
            last_error = exc
            continue
        sep = delimiter or _sniff_delimiter(sample)
        try:
            frame = pd.read_csv(file, sep=sep, encoding=encoding)
        except UnicodeDecodeError as exc:
            last_error = exc
            continue
        return frame, encoding.replace("-sig", ""), sep
    raise DataError(f"raw file {file.name!r} is in no known text encoding ({last_error})")


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
