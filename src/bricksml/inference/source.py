"""The input of a scoring run, read in chunks so that memory does not grow with its size."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from mlflow.types import Schema

from bricksml import layout
from bricksml.data import readers
from bricksml.data.store import file_sha256
from bricksml.data.versions import DataVersion
from bricksml.errors import DataError, first_line

_CSV_BLOCK = 4 << 20
#: The Arrow type a model input column is read as, by its MLflow signature type's name. Whole
#: numbers are read as float64: a missing value must not break an integer column (the pipelines
#: impute NaN). A type without an entry (binary, datetime, arrays) keeps the file's own type.
SIGNATURE_TYPES = {
    "string": pa.string(),
    "double": pa.float64(),
    "float": pa.float64(),
    "long": pa.float64(),
    "integer": pa.float64(),
    "boolean": pa.bool_(),
}
_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)
_NEEDS = {"double": "numbers (double)", "bool": "true/false values (boolean)", "string": "text (string)"}


@dataclass(frozen=True)
class ScoringInput:
    """What is scored: its files, their digest, and the label column when known."""

    description: str
    files: list[Path]
    digest: str
    label_col: str | None
    id_col: str | None
    columns: list[str] = field(default_factory=list)


def model_types(inputs: Schema) -> dict[str, pa.DataType | None]:
    """The Arrow type of each model input column, from the model's signature.

    Looked up by the type's ``name``: ``str(DataType.long)`` is ``"DataType.long"``.
    """
    types: dict[str, pa.DataType | None] = {}
    for column in inputs.inputs:
        if not getattr(column, "name", None):
            raise DataError("the model's signature has unnamed inputs; bricksml scores named columns")
        types[column.name] = SIGNATURE_TYPES.get(getattr(column.type, "name", ""))
    return types


def open_path(input_path: str, label_col: str | None, id_col: str | None) -> ScoringInput:
    """The file or folder ``input_path`` names, with the model's label and id columns if it has them."""
    files = _input_files(layout.real_path(input_path), input_path)
    digest = hashlib.sha256("".join(file_sha256(f) for f in files).encode()).hexdigest()
    return _opened(input_path, files, digest, label_col, id_col)


def open_split(version: DataVersion, split: str, id_col: str | None) -> ScoringInput:
    """One split of a data version (its manifest names the label and id columns)."""
    files = [version.split_file(split)]
    description = f"{version.name}/{version.version}/{split}"
    return _opened(
        description, files, version.split_digest(split), version.label_col, version.id_col or id_col
    )


def _opened(
    description: str, files: list[Path], digest: str, label_col: str | None, id_col: str | None
) -> ScoringInput:
    """The input and its columns (read from headers and schemas, not from the data)."""
    columns = _columns(files[0])
    for file in files[1:]:
        if _columns(file) != columns:
            raise DataError(f"input file {file.name!r} has other columns than {files[0].name!r}")
    twice = [name for name, n in Counter(columns).items() if n > 1]
    if twice:  # a reader would silently take one of them
        raise DataError(f"input file {files[0].name!r} has the column {twice[0]!r} twice; rename or drop one")
    return ScoringInput(description, files, digest, label_col, id_col, columns)


def _input_files(path: Path, asked: str) -> list[Path]:
    """The files to score at ``input_path``; errors name that parameter (not create_data's)."""
    known = ", ".join(sorted(readers.FORMATS))
    if not path.exists():
        raise DataError(f"input_path {asked!r} does not exist; pass an existing file or folder")
    if path.is_file() and path.suffix.lower() not in readers.FORMATS:
        raise DataError(f"input_path {asked!r} is not a file bricksml reads; use one of {known}")
    if path.is_dir() and not any(
        p.is_file() and p.suffix.lower() in readers.FORMATS and not p.name.startswith((".", "_"))
        for p in path.iterdir()
    ):
        raise DataError(f"input_path {asked!r} holds no file bricksml reads ({known})")
    return readers.list_raw_files(path)


def _columns(file: Path) -> list[str]:
    fmt = readers.FORMATS[file.suffix.lower()]
    if fmt == "parquet":
        try:
            return list(pq.ParquetFile(file).schema_arrow.names)
        except (pa.ArrowException, OSError) as exc:  # truncated, empty, not Parquet at all
            raise DataError(
                f"input file {file.name!r} could not be read as parquet: {first_line(exc, limit=200)};"
                " replace it with a complete file"
            ) from None
    if fmt == "jsonl":
        try:
            with file.open(encoding="utf-8") as handle:
                first = handle.readline()
            pairs = json.loads(first, object_pairs_hook=list) if first.strip() else []
        except (ValueError, UnicodeDecodeError):
            raise DataError(
                f"input file {file.name!r} is not JSON Lines (UTF-8, one object a line)"
            ) from None
        if not isinstance(pairs, list) or not all(isinstance(p, tuple) for p in pairs):
            raise DataError(f"input file {file.name!r} is not JSON Lines: its first line is not an object")
        return [key for key, _ in pairs]
    encoding, delimiter = readers.text_format(file, "\t" if fmt == "tsv" else None)
    with file.open(encoding=encoding, newline="") as handle:
        header = handle.readline()
    return [c.strip().strip('"') for c in header.rstrip("\r\n").split(delimiter)]


def iter_frames(
    files: Sequence[Path], types: dict[str, pa.DataType | None], batch_size: int
) -> Iterator[pd.DataFrame]:
    """DataFrames of at most ``batch_size`` rows with just the ``types`` columns, in file order.

    A column typed ``None`` keeps the type the first file gives it; later files are converted to it.
    """
    pending: list[pa.RecordBatch] = []
    rows = 0
    schema: pa.Schema | None = None
    for file in files:
        for batch in _batches(file, types, batch_size):
            if schema is None:
                schema = batch.schema
            elif not batch.schema.equals(schema):
                batch = _align(batch, schema, file, files[0])
            pending.append(batch)
            rows += batch.num_rows
            while rows >= batch_size:
                table = pa.Table.from_batches(pending)
                yield _frame(table.slice(0, batch_size))
                rest = table.slice(batch_size)
                pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield _frame(pa.Table.from_batches(pending))


def _align(batch: pa.RecordBatch, schema: pa.Schema, file: Path, first: Path) -> pa.RecordBatch:
    """A later file's batch in the first file's types (an id column int64 here, string there)."""
    arrays = []
    for wanted in schema:
        column = batch.column(batch.schema.get_field_index(wanted.name))
        if column.type != wanted.type:
            try:
                column = column.cast(wanted.type)
            except _CAST_ERRORS:
                raise DataError(
                    f"input file {file.name!r}: column {wanted.name!r} holds {column.type} values,"
                    f" {first.name!r} holds {wanted.type}; give the files of a folder the same types"
                ) from None
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _frame(table: pa.Table) -> pd.DataFrame:
    return table.combine_chunks().to_pandas()


def _batches(file: Path, types: dict[str, pa.DataType | None], batch_size: int) -> Iterator[pa.RecordBatch]:
    fmt = readers.FORMATS[file.suffix.lower()]
    offset = 0  # rows of this file already read: errors name the row
    try:
        for batch in _raw_batches(file, fmt, list(types), batch_size):
            yield _cast(batch, types, file, offset)
            offset += batch.num_rows
    except DataError:
        raise
    except (pa.ArrowException, ValueError, OSError) as exc:  # corrupt pages, ragged rows, bad JSON
        raise DataError(
            f"input file {file.name!r} could not be read as {fmt}: {first_line(exc, limit=200)};"
            " fix or replace the file"
        ) from None


def _raw_batches(file: Path, fmt: str, names: list[str], batch_size: int) -> Iterator[pa.RecordBatch]:
    """The columns as the file holds them; text formats as strings, converted by :func:`_cast`."""
    if fmt == "parquet":
        yield from pq.ParquetFile(file).iter_batches(batch_size=batch_size, columns=names)
    elif fmt == "jsonl":
        chunks = pd.read_json(file, lines=True, dtype=False, convert_dates=False, chunksize=batch_size)
        for chunk in chunks:
            # A chunk whose lines all lack a key has no such column: its values are missing.
            chunk = chunk.reindex(columns=names)
            yield pa.RecordBatch.from_arrays([_json_array(chunk[n]) for n in names], names=names)
    else:
        encoding, delimiter = readers.text_format(file, "\t" if fmt == "tsv" else None)
        yield from pa_csv.open_csv(
            file,
            read_options=pa_csv.ReadOptions(block_size=_CSV_BLOCK, encoding=encoding),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                include_columns=names,
                # Strings first: a value that is no number fails in _cast, which names its row.
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
            ),
        )


def _json_array(values: pd.Series) -> pa.Array:
    """A JSON column as Arrow; one mixing numbers and text (45, "70y") as text, for _cast to judge."""
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([_as_text(v) for v in values], pa.string())


def _as_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _cast(
    batch: pa.RecordBatch, types: dict[str, pa.DataType | None], file: Path, offset: int
) -> pa.RecordBatch:
    arrays = []
    for name, type_ in types.items():
        column = batch.column(batch.schema.get_field_index(name))
        if type_ is not None and column.type != type_:
            column = _convert(column, type_, name, file, offset)
        if type_ is not None and pa.types.is_floating(type_) and pc.any(pc.is_inf(column)).as_py():
            row = pc.index(pc.is_inf(column), True).as_py()
            raise DataError(
                f"input file {file.name!r}: column {name!r} needs finite numbers, row {offset + row + 1}"
                f" holds {column[row].as_py()}; replace it or leave it empty (missing values are imputed)"
            )
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=list(types))


def _convert(column: pa.Array, type_: pa.DataType, name: str, file: Path, offset: int) -> pa.Array:
    """``column`` as ``type_``; a value that cannot be is named with its column and row."""
    # Numbers to float64 may round beyond 2**53, as pandas would; a text that is no number fails.
    safe = not (pa.types.is_integer(column.type) or pa.types.is_decimal(column.type))
    try:
        return column.cast(type_, safe=safe)
    except _CAST_ERRORS:
        pass
    needs = _NEEDS.get(str(type_), str(type_))
    where = f"input file {file.name!r}: column {name!r}"
    values = column.to_pylist()
    if not _castable(column.type, type_):  # no single value is to blame: the column's type is
        row = next((i for i, v in enumerate(values) if v is not None), 0)
        raise DataError(
            f"{where} holds {column.type} values, the model needs {needs}"
            f" (row {offset + row + 1}: {_shown(values[row] if values else None)}); convert the column"
        )
    for row, value in enumerate(values):  # only on failure: find the first value to blame
        if value is None:
            continue
        try:
            pa.array([value], column.type).cast(type_, safe=safe)
        except _CAST_ERRORS:
            raise DataError(
                f"{where} needs {needs}, row {offset + row + 1} holds {_shown(value)};"
                " fix or remove that value"
            ) from None
    raise DataError(f"{where} holds {column.type} values, the model needs {needs}")


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _castable(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether Arrow converts this type to that one at all (else no single value is to blame)."""
    try:
        pa.array([], source).cast(target)
    except _CAST_ERRORS:
        return False
    return True
