"""The batch predictions of one model version in a time window: the inference job's output folders.

Each folder holds ``predictions.parquet`` (in the order of its input) and ``metadata.json``,
which names the input files; the model's input columns are read back from those files, row for
row. A batch whose input files are gone still counts with its predictions; its inputs are unknown.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bricksml import layout
from bricksml.data import readers
from bricksml.errors import DataError, first_line
from bricksml.layout import METADATA, PREDICTIONS, ROW_NUMBER
from bricksml.monitoring import columns as C

#: How the inference job names its folders (the UTC time it scored).
STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
PROBABILITY_PREFIX = "probability_"


@dataclass(frozen=True)
class Batch:
    """One inference output folder in the window."""

    path: Path
    scored_at: dt.datetime
    metadata: dict

    @property
    def input_files(self) -> list[Path]:
        return [Path(f) for f in (self.metadata.get("input") or {}).get("files") or []]


def stamp_time(name: str) -> dt.datetime | None:
    """The scoring time a folder's name holds, or None for a folder the inference job did not name."""
    try:
        return dt.datetime.strptime(name, STAMP_FORMAT).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def find(output_location: str, model_folder: str, since: dt.datetime, until: dt.datetime) -> list[Batch]:
    """The model's output folders scored in ``[since, until)``, oldest first."""
    base = layout.model_outputs_dir(output_location, model_folder)
    if not base.is_dir():
        return []
    found = []
    for folder in sorted(base.iterdir()):
        moment = stamp_time(folder.name)
        if moment is None or not (since <= moment < until) or not (folder / METADATA).is_file():
            continue
        found.append(Batch(folder, moment, json.loads((folder / METADATA).read_text())))
    return found


def read(batch: Batch, inputs: list[str], label_col: str | None, id_col: str | None) -> pd.DataFrame:
    """One batch as window rows: its predictions, and its inputs when its input files remain.

    Columns stay as Arrow gives them to pandas (classes as categories, text as Arrow strings): a
    million Python string objects would cost more than the statistics.
    """
    table = pq.read_table(batch.path / PREDICTIONS)
    frame = pd.DataFrame(
        {C.PREDICTION: table.column("prediction").to_pandas(), C.CONFIDENCE: _confidence(table)}
    )
    frame[C.SOURCE] = batch.path.name
    # Without the data's id column the job numbered the rows (ROW_NUMBER): nothing labels can join on.
    has_id = bool(id_col) and id_col in table.column_names and id_col != ROW_NUMBER
    frame[C.ID] = table.column(id_col).to_pandas().astype(str) if has_id else None
    read_inputs = _inputs(batch, [*inputs, *(c for c in (label_col,) if c)], len(frame))
    frame[C.HAS_INPUTS] = read_inputs is not None
    if read_inputs is not None:
        missing = [c for c in inputs if c not in read_inputs]
        if missing:
            raise DataError(
                f"inference output {batch.path.name}: its input lacks the model's column(s) {missing};"
                f" it has {list(read_inputs.columns)}"
            )
        read_inputs.index = frame.index
        for column in inputs:
            frame[column] = read_inputs[column]
        if label_col and label_col in read_inputs:
            frame[C.LABEL] = read_inputs[label_col]
    return frame


def _inputs(batch: Batch, wanted: list[str], rows: int) -> pd.DataFrame | None:
    """The batch's input columns (those its files have), or None when the files are gone or differ."""
    files = batch.input_files
    if not files or not all(f.is_file() for f in files):
        return None
    parts = []
    for file in files:
        fmt = readers.FORMATS.get(file.suffix.lower())
        try:
            if fmt == "parquet":
                names = set(pq.ParquetFile(file).schema_arrow.names)
                parts.append(pd.read_parquet(file, columns=[c for c in wanted if c in names]))
            elif fmt == "jsonl":
                rows_read = pd.read_json(file, lines=True, dtype=False)
                parts.append(rows_read[[c for c in wanted if c in rows_read.columns]])
            elif fmt in ("csv", "tsv"):
                sep = "\t" if fmt == "tsv" else ","
                header = pd.read_csv(file, sep=sep, nrows=0).columns
                parts.append(pd.read_csv(file, sep=sep, usecols=[c for c in wanted if c in header]))
            else:
                return None
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise DataError(
                f"inference output {batch.path.name}: its input file {file} cannot be read "
                f"({first_line(exc, limit=160)}); restore it or pass input_path"
            ) from None
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if len(frame) != rows:  # not the rows that were scored any more
        return None
    return frame


def _confidence(table: pa.Table) -> np.ndarray:
    """The largest class probability of each row; NaN for a regressor (no probability columns)."""
    names = [n for n in table.column_names if n.startswith(PROBABILITY_PREFIX)]
    if not names:
        return np.full(table.num_rows, np.nan)
    matrix = np.column_stack([table.column(n).to_numpy(zero_copy_only=False) for n in names])
    return matrix.max(axis=1)
