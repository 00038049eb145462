"""Where every file bricksml reads or writes lives, in one place.

Paths are given as workspace paths (``/Volumes/<catalog>/<schema>/<volume>/...``); this module is
the only one that maps them to real paths (through :func:`bricksml.runtime.resolve_path`), so the
same layout holds on Databricks and in the local mirror:

    <data_root>/<data_name>/raw/                      raw files (create_data's default input)
    <data_root>/<data_name>/<data_version>/           one immutable data version
    <data_root>/<data_name>/<data_version>/manifest.json
    <output_location>/<model>/v<N>/<stamp>/           one batch of inference outputs
    <output_location>/<model>/v<N>/monitoring/<stamp>/  one monitoring window's report

Tables (an endpoint's request log, a predictions table) are Unity Catalog tables on Databricks;
locally a table ``catalog.schema.name`` is a folder of Parquet files under ``<local root>/tables``.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from bricksml import runtime
from bricksml.errors import BricksmlError

MANIFEST = "manifest.json"
RAW = "raw"
MONITORING = "monitoring"
TABLES = "tables"
#: The files of one batch of inference outputs, and the column that numbers its rows when the
#: input has no id column.
PREDICTIONS = "predictions.parquet"
METADATA = "metadata.json"
ROW_NUMBER = "row_number"


def real_path(path: str | os.PathLike[str]) -> Path:
    """A path a user gave (a workspace path or a local one) as a path this process can open."""
    return runtime.resolve_path(path)


def data_dir(data_root: str, data_name: str) -> Path:
    """The folder of one data set: its raw files and all its versions."""
    return real_path(data_root) / data_name


def raw_dir(data_root: str, data_name: str) -> Path:
    """Where create_data looks for raw files when no ``raw_path`` is given."""
    return data_dir(data_root, data_name) / RAW


def version_dir(data_root: str, data_name: str, data_version: str) -> Path:
    """The folder of one immutable data version."""
    return data_dir(data_root, data_name) / data_version


def manifest_file(version_folder: Path) -> Path:
    """A data version's manifest: what it holds, how it was made, its splits' digests."""
    return version_folder / MANIFEST


def versions(data_root: str, data_name: str) -> list[str]:
    """The data versions of a data set that exist (those with a manifest), sorted."""
    base = data_dir(data_root, data_name)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if manifest_file(p).is_file())


def model_outputs_dir(output_location: str, model_folder: PurePosixPath | str) -> Path:
    """Everything written for one model (``<name>/v<N>`` or ``m-<id>``) under an output root."""
    return real_path(output_location) / model_folder


def inference_dir(output_location: str, model_folder: PurePosixPath | str, stamp: str) -> Path:
    """One batch of predictions (and its meta) of one model."""
    return model_outputs_dir(output_location, model_folder) / stamp


def monitoring_dir(output_location: str, model_folder: PurePosixPath | str, stamp: str) -> Path:
    """One monitoring window's report and summary, beside the model's inference outputs."""
    return model_outputs_dir(output_location, model_folder) / MONITORING / stamp


def local_table_dir(full_name: str) -> Path:
    """The local mirror of a Unity Catalog table ``catalog.schema.name``: a folder of Parquet files."""
    parts = full_name.split(".")
    if len(parts) != 3 or not all(parts):
        raise BricksmlError(f"a table name is catalog.schema.name (three parts); got {full_name!r}")
    return runtime.local_root() / TABLES / Path(*parts)
