"""What the model saw in training, for the form's hints: each number's range, each column's categories.

Read from the train split of the data version the version was trained on (its ``data_name`` and
``data_version`` tags, under the app's data root), only the model's columns.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bricksml import layout
from bricksml.app.files import Files
from bricksml.data.versions import DataVersion

#: The categories offered in a select box: the most frequent ones (then sorted by name).
MAX_CATEGORIES = 500
TRAIN = "train"


@dataclass(frozen=True)
class NumberRange:
    low: float
    high: float
    median: float


@dataclass(frozen=True)
class TrainingStats:
    """Where the statistics come from, and the statistics of each column found there."""

    source: str  # "<data_name>/<data_version>/train"
    numbers: dict[str, NumberRange] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)


def read(
    files: Files, data_root: str, data_name: str, data_version: str, columns: list[str]
) -> TrainingStats | None:
    """The train split's statistics of ``columns``; None when the data version cannot be found."""
    if not (data_name and data_version):
        return None
    folder = layout.version_dir(data_root, data_name, data_version)
    manifest_path = layout.manifest_file(folder)
    if not files.is_file(manifest_path):
        return None
    version = DataVersion(folder, json.loads(files.read_bytes(manifest_path)))
    if TRAIN not in version.splits:
        return None
    table = pq.read_table(io.BytesIO(files.read_bytes(version.split_file(TRAIN))))
    present = [c for c in columns if c in table.column_names]
    return summarize(table.select(present).to_pandas(), f"{data_name}/{data_version}/{TRAIN}")


def summarize(frame: pd.DataFrame, source: str) -> TrainingStats:
    """Ranges of the numeric columns, the frequent categories of the others."""
    numbers: dict[str, NumberRange] = {}
    categories: dict[str, list[str]] = {}
    for name in frame.columns:
        values = frame[name].dropna()
        if values.empty:
            continue
        if pd.api.types.is_bool_dtype(values):
            continue
        if pd.api.types.is_numeric_dtype(values):
            numbers[name] = NumberRange(float(values.min()), float(values.max()), float(values.median()))
        else:
            frequent = values.astype(str).value_counts().head(MAX_CATEGORIES).index
            categories[name] = sorted(frequent)
    return TrainingStats(source, numbers, categories)


def is_number(type_: pa.DataType | None) -> bool:
    return type_ is not None and (pa.types.is_floating(type_) or pa.types.is_integer(type_))
