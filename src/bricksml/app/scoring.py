"""Score an uploaded file the way the inference job reads its input, in chunks.

The upload is kept in a temporary folder under its own name and read by the job's reader
(:mod:`bricksml.inference.source`): the same formats, the same column checks, the same
conversion to the model's types, and messages that name the file, the column and the row.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from bricksml.app.model_card import ModelCard
from bricksml.app.predictors import Predictor
from bricksml.data import readers
from bricksml.errors import DataError
from bricksml.inference import source

#: Rows scored per request (and per step of the progress bar); within what an endpoint takes.
CHUNK_ROWS = 5_000
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Scored:
    frame: pd.DataFrame  # the file's rows, then prediction (+ probabilities)
    served_by: str


@contextmanager
def uploaded(name: str, data: bytes) -> Iterator[Path]:
    """The upload as a file named like the user's, for as long as it is scored."""
    safe = _UNSAFE_NAME.sub("_", Path(name).name) or "upload"
    if Path(safe).suffix.lower() not in readers.FORMATS:
        known = ", ".join(sorted(readers.FORMATS))
        raise DataError(f"{name!r} is not a table the app reads: upload a CSV or Parquet file ({known})")
    if not data:
        raise DataError(f"{name!r} is empty: upload a CSV or Parquet file with a header and rows")
    with tempfile.TemporaryDirectory(prefix="bricksml-upload-") as folder:
        path = Path(folder) / safe
        path.write_bytes(data)
        yield path


def score_file(
    path: Path, card: ModelCard, predictor: Predictor, progress: Callable[[float, str], None]
) -> Scored:
    """Every row of ``path`` with its prediction; ``progress(share done, text)`` after each chunk."""
    scoring = source.open_path(str(path), None, None)
    missing = [c for c in card.columns if c not in scoring.columns]
    if missing:
        raise DataError(f"file {path.name!r} lacks the model's column(s) {missing}; it has {scoring.columns}")
    extra = {c: None for c in scoring.columns if c not in card.columns}
    types = {**card.columns, **extra}
    total = max(_rows(path), 1)
    parts, done, served_by = [], 0, ""
    for frame in source.iter_frames(scoring.files, _readable(types, path), CHUNK_ROWS):
        answer = predictor.predict(frame)
        parts.append(pd.concat([frame.reset_index(drop=True), answer.frame], axis=1))
        done += len(frame)
        served_by = answer.served_by
        progress(min(done / total, 1.0), f"scored {done} rows")
    if not parts:
        raise DataError(f"file {path.name!r} has no rows to score")
    return Scored(
        pd.concat(parts, ignore_index=True)[[*scoring.columns, *parts[0].columns[len(types) :]]], served_by
    )


def _readable(types: dict, path: Path) -> dict:
    """Columns the model does not read keep their text as text, as batch inference reads them."""
    if readers.FORMATS[path.suffix.lower()] == "parquet":
        return types
    return {name: (source.SIGNATURE_TYPES["string"] if t is None else t) for name, t in types.items()}


def _rows(path: Path) -> int:
    """The rows to expect, for the progress bar (a text file's lines: near enough)."""
    if readers.FORMATS[path.suffix.lower()] == "parquet":
        try:
            return pq.ParquetFile(path).metadata.num_rows
        except Exception:  # the reader names what is wrong with it
            return 0
    with path.open("rb") as handle:
        return max(sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1, 0)


def to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")
