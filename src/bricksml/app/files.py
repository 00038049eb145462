"""Reading the volumes the app shows (data versions, monitoring reports), locally or in an App.

Paths come from :mod:`bricksml.layout`. Locally they are files of the mirror. A Databricks App
has no ``/Volumes`` mount: there the app runs with ``BRICKSML_LOCAL_ROOT=/`` (so the layout's
paths are the workspace paths themselves) and reads them through the Files API as its service
principal, which the app resource grants ``READ_VOLUME``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Protocol

from bricksml.app.settings import FILES_API, FILES_LOCAL
from bricksml.errors import BricksmlError


class Files(Protocol):
    def read_bytes(self, path: Path) -> bytes: ...

    def is_file(self, path: Path) -> bool: ...

    def children(self, folder: Path) -> list[str]:
        """The names in ``folder`` (none when it does not exist)."""
        ...


class LocalFiles:
    def read_bytes(self, path: Path) -> bytes:
        return path.read_bytes()

    def is_file(self, path: Path) -> bool:
        return path.is_file()

    def children(self, folder: Path) -> list[str]:
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


class VolumeFiles:
    """The Files API of the workspace the app runs in (the SDK finds the app's credentials)."""

    def __init__(self) -> None:
        from databricks.sdk import WorkspaceClient

        self._client = WorkspaceClient()

    def read_bytes(self, path: Path) -> bytes:
        return self._client.files.download(path.as_posix()).contents.read()

    def is_file(self, path: Path) -> bool:
        from databricks.sdk.errors import NotFound

        try:
            self._client.files.get_metadata(path.as_posix())
        except NotFound:
            return False
        return True

    def children(self, folder: Path) -> list[str]:
        from databricks.sdk.errors import NotFound

        try:
            entries = self._client.files.list_directory_contents(folder.as_posix())
            return sorted(entry.name for entry in entries if entry.name)
        except NotFound:
            return []


@functools.cache
def files(mode: str) -> Files:
    """The reader for a ``files`` setting."""
    if mode == FILES_LOCAL:
        return LocalFiles()
    if mode == FILES_API:
        return VolumeFiles()
    raise BricksmlError(f"the app's files setting must be {FILES_LOCAL!r} or {FILES_API!r}; got {mode!r}")
