"""Write the local request log without slowing requests: rows are queued, a thread writes them.

A request only appends its row to a list. A background thread writes what has queued as one
Parquet file every ``flush_seconds`` (sooner when ``flush_rows`` are waiting), through a hidden
temporary file renamed into place, so a reader never sees half a file. :meth:`close` writes the
rest: the server calls it once the last request in flight has been answered.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bricksml.serving.request_log import SCHEMA

log = logging.getLogger(__name__)
#: Databricks does not log payloads over 1 MiB; it records why in ``logging_error_codes``.
MAX_LOGGED_BYTES = 1 << 20
REQUEST_TOO_LARGE = "MAX_REQUEST_SIZE_EXCEEDED"
RESPONSE_TOO_LARGE = "MAX_RESPONSE_SIZE_EXCEEDED"


class RequestLogWriter:
    """Queue rows of :data:`SCHEMA`; a daemon thread writes them to ``folder`` in batches."""

    def __init__(self, folder: Path, flush_seconds: float = 1.0, flush_rows: int = 5000) -> None:
        self.folder, self.flush_seconds, self.flush_rows = folder, flush_seconds, flush_rows
        self.rows_written = 0
        self.files_written = 0
        self.failures = 0
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._prefix = f"part-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._numbers = itertools.count()
        self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def add(self, row: dict[str, Any]) -> None:
        """Queue one row (cheap: the request that logs it does not wait for any write)."""
        with self._lock:
            self._rows.append(row)
            full = len(self._rows) >= self.flush_rows
        if full:
            self._wake.set()

    def close(self) -> None:
        """Stop the thread and write every queued row."""
        self._closed.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return
        name = f"{self._prefix}-{next(self._numbers):06d}.parquet"
        temporary = self.folder / f".{name}.tmp"
        try:
            pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), temporary, compression="zstd")
            os.replace(temporary, self.folder / name)
        except OSError:  # a full disk must not stop the server; the rows are counted as lost
            self.failures += len(rows)
            log.exception("could not write %d request log rows to %s", len(rows), self.folder)
            temporary.unlink(missing_ok=True)
            return
        self.rows_written += len(rows)
        self.files_written += 1


def logged_payload(text: str | None, code: str, errors: list[str]) -> str | None:
    """A payload as the log keeps it: over :data:`MAX_LOGGED_BYTES`, left out and ``code`` noted."""
    if text is not None and len(text) > MAX_LOGGED_BYTES // 4 and len(text.encode()) > MAX_LOGGED_BYTES:
        errors.append(code)
        return None
    return text
