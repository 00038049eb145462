"""The input of a scoring run, read in chunks so that memory does not grow with its size."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from bricksml import runtime
from bricksml.data import readers
from bricksml.data.store import file_sha256
from bricksml.data.versions import open_version
from bricksml.errors import DataError
from bricksml.params.inference import InferenceParams

_CSV_BLOCK = 4 << 20


@dataclass(frozen=True)
class ScoringInput:
    """What is scored: its files, their digest, and the label column when known."""

    description: str
    files: list[Path]
    digest: str
    label_col: str | None
    id_col: str | None
    columns: list[str] = field(default_factory=list)


def open_input(params: InferenceParams, label_col: str | None, id_col: str | None) -> ScoringInput:
    """The input files and their columns (read from headers and schemas, not from the data)."""
    if params.input_path:
        path = runtime.resolve_path(params.input_path)
        if not path.exists():
            raise DataError(f"input_path {params.input_path!r} does not exist")
        files = readers.list_raw_files(path)
        digest = hashlib.sha256("".join(file_sha256(f) for f in files).encode()).hexdigest()
        description = params.input_path
    else:
        version = open_version(params.data_root, params.data_name, params.data_version)
        split = params.split or version.evaluation_split
        files = [version.split_file(split)]
        digest = version.split_digest(split)
        description = f"{version.name}/{version.version}/{split}"
        label_col, id_col = version.label_col, version.id_col or id_col
    columns = _columns(files[0])
    for file in files[1:]:
        if _columns(file) != columns:
            raise DataError(f"input file {file.name!r} has other columns than {files[0].name!r}")
    return ScoringInput(description, files, digest, label_col, id_col, columns)


def _columns(file: Path) -> list[str]:
    fmt = readers.FORMATS[file.suffix.lower()]
    if fmt == "parquet":
        return list(pq.ParquetFile(file).schema_arrow.names)
    if fmt == "jsonl":
        with file.open() as handle:
            first = handle.readline()
        try:
            return list(json.loads(first)) if first.strip() else []
        except ValueError:
            raise DataError(f"input file {file.name!r} is not JSON Lines") from None
    encoding, delimiter = readers.text_format(file, "\t" if fmt == "tsv" else None)
    with file.open(encoding=encoding, newline="") as handle:
        header = handle.readline()
    return [c.strip().strip('"') for c in header.rstrip("\r\n").split(delimiter)]


def iter_frames(
    files: Sequence[Path], types: dict[str, pa.DataType | None], batch_size: int
) -> Iterator[pd.DataFrame]:
    """DataFrames of at most ``batch_size`` rows with just the ``types`` columns, in file order.

    A column typed ``None`` keeps the type the file gives it.
    """
    pending: list[pa.RecordBatch] = []
    rows = 0
    for file in files:
        for batch in _batches(file, types, batch_size):
            pending.append(batch)
            rows += batch.num_rows
            while rows >= batch_size:
                table = pa.Table.from_batches(pending)
                yield _frame(table.slice(0, batch_size))
                rest = table.slice(batch_size)
                pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield _frame(pa.Table.from_batches(pending))


def _frame(table: pa.Table) -> pd.DataFrame:
    return table.combine_chunks().to_pandas()


def _batches(file: Path, types: dict[str, pa.DataType | None], batch_size: int) -> Iterator[pa.RecordBatch]:
    fmt = readers.FORMATS[file.suffix.lower()]
    names = list(types)
    try:
        if fmt == "parquet":
            for batch in pq.ParquetFile(file).iter_batches(batch_size=batch_size, columns=names):
                yield _cast(batch, types, file)
        elif fmt == "jsonl":
            for chunk in pd.read_json(file, lines=True, dtype=False, chunksize=batch_size):
                yield _cast(pa.RecordBatch.from_pandas(chunk[names], preserve_index=False), types, file)
        else:
            encoding, delimiter = readers.text_format(file, "\t" if fmt == "tsv" else None)
            reader = pa_csv.open_csv(
                file,
                read_options=pa_csv.ReadOptions(block_size=_CSV_BLOCK, encoding=encoding),
                parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(
                    include_columns=names, column_types=types, strings_can_be_null=True
                ),
            )
            for batch in reader:
                yield batch
    except (pa.ArrowInvalid, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"input file {file.name!r} could not be read: {first}") from None


def _cast(batch: pa.RecordBatch, types: dict[str, pa.DataType | None], file: Path) -> pa.RecordBatch:
    arrays = []
    for name, type_ in types.items():
        column = batch.column(batch.schema.get_field_index(name))
        if type_ is not None and column.type != type_:
            try:
                column = column.cast(type_)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise DataError(
                    f"input file {file.name!r}: column {name!r} holds {column.type}, the model needs {type_}"
                ) from None
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=list(types))
