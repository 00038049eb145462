"""Immutable, atomic data versions: written to a hidden temporary folder, renamed into place.

An existing version is never touched: the same content again is a no-op, other content is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bricksml import layout
from bricksml.data import arrow
from bricksml.errors import VersionExistsError

TMP_PREFIX = ".tmp-"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Deterministic parquet: same frame, same bytes."""
    frame.to_parquet(path, index=False, engine="pyarrow", compression="zstd")


def arrow_table(frame: pd.DataFrame) -> pa.Table | None:
    """The frame as an Arrow table with the pandas metadata ``to_parquet`` writes, without copying.

    Only for numeric, boolean and Arrow string columns, whose conversion does not depend on which
    rows are converted; None otherwise (write the rows with :func:`write_parquet`).
    """
    if frame.attrs:
        return None
    for dtype in frame.dtypes:
        if isinstance(dtype, pd.StringDtype):
            if dtype.storage != "pyarrow":
                return None
        elif not (isinstance(dtype, np.dtype) and dtype.kind in "biuf"):
            return None
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_rows(table: pa.Table, rows: np.ndarray, path: Path) -> None:
    """Deterministic parquet of ``table``'s ``rows`` (ascending): what :func:`write_parquet` writes for
    those rows (same columns, types and pandas metadata), in row groups of ``arrow.BLOCK_ROWS`` rows,
    each taken from the table only when it is written.

    Memory stays at one block whatever the size of the split: materialising a whole split first,
    then writing it as one row group (the parquet writer's dictionary of a unique integer column
    grows to some 30 MB), would be the peak of create_data.
    """
    arrow.release_memory()  # what the steps before freed (splitting's arrays, the last split's blocks)
    with pq.ParquetWriter(path, table.schema, compression="zstd", memory_pool=arrow.POOL) as writer:
        for start in range(0, max(len(rows), 1), arrow.BLOCK_ROWS):
            writer.write_table(arrow.take_table(table, rows[start : start + arrow.BLOCK_ROWS], arrow.POOL))
            arrow.release_memory()  # the block, and the writer's buffers for its row group


def content_digest(manifest: Mapping) -> str:
    """The digest of what a version *is*: its splits and the parameters that made them."""
    content = {
        "parameters": manifest["parameters"],
        "sources": [s["sha256"] for s in manifest["sources"]],
        "splits": {name: s["sha256"] for name, s in manifest["splits"].items()},
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def read_manifest(version_dir: Path) -> dict:
    return json.loads(layout.manifest_file(version_dir).read_text())


def publish(
    final_dir: Path,
    write: Callable[[Path], dict],
    *,
    what: str,
) -> tuple[dict, bool]:
    """Write a version through ``write(tmp_dir) -> manifest`` and rename it to ``final_dir``.

    Returns the manifest in place and whether it was created now (False: identical, no-op).
    """
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(final_dir)
    tmp_dir = final_dir.parent / f"{TMP_PREFIX}{final_dir.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp_dir.mkdir()
    try:
        manifest = write(tmp_dir)
        manifest["content_digest"] = content_digest(manifest)
        layout.manifest_file(tmp_dir).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if final_dir.exists():
            return _compare_existing(final_dir, manifest, what), False
        try:
            os.rename(tmp_dir, final_dir)
        except OSError:
            if final_dir.exists():  # another run published it first
                return _compare_existing(final_dir, manifest, what), False
            raise
        return manifest, True
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def publish_new(final_dir: Path, write: Callable[[Path], None], *, what: str) -> None:
    """Write an output that must not exist yet through ``write(tmp_dir)``, then rename it into place."""
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(final_dir, any_name=True)
    if final_dir.exists():
        raise VersionExistsError(f"{what} already exists at {final_dir}; outputs are never overwritten")
    tmp_dir = final_dir.parent / f"{TMP_PREFIX}{final_dir.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp_dir.mkdir()
    try:
        write(tmp_dir)
        try:
            os.rename(tmp_dir, final_dir)
        except OSError:
            if final_dir.exists():
                raise VersionExistsError(
                    f"{what} already exists at {final_dir}; outputs are never overwritten"
                ) from None
            raise
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _compare_existing(final_dir: Path, manifest: dict, what: str) -> dict:
    try:
        existing = read_manifest(final_dir)
    except (OSError, ValueError):
        raise VersionExistsError(
            f"{what} already exists at {final_dir} without a readable manifest; choose another version name"
        ) from None
    if existing.get("content_digest") != manifest["content_digest"]:
        raise VersionExistsError(
            f"{what} already exists with different content; versions are immutable, choose a new version name"
        )
    return existing


def _remove_stale_tmp(final_dir: Path, any_name: bool = False) -> None:
    """Remove temporary folders left by runs that were killed (of this name, or of any name)."""
    pattern = f"{TMP_PREFIX}*" if any_name else f"{TMP_PREFIX}{final_dir.name}-*"
    for tmp in final_dir.parent.glob(pattern):
        try:
            pid = int(tmp.name.rsplit("-", 2)[1])
        except (IndexError, ValueError):
            continue
        if not _alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
