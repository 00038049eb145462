"""Arrow helpers for large columns: select rows block by block, never the whole column at once."""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Where create_data allocates its large temporaries: the C heap, which :func:`release_memory`
#: hands back between steps. Arrow's default pool (mimalloc) keeps freed memory for reuse, so
#: temporaries that come and go step by step add up in the peak (at 1M rows: about 350 MB instead
#: of 374 MB, before the steps released memory).
POOL = pa.system_memory_pool()
#: Rows per chunk of a selection (and per row group of a split file).
BLOCK_ROWS = 1 << 16


def release_memory() -> None:
    """Hand what a step freed back to the system before the next step allocates its own.

    glibc keeps freed blocks for reuse (and raises the size from which it maps a block on its own
    to the largest one freed so far, up to 32 MiB), but the next step's temporaries rarely fit
    the holes they leave: without this, the temporaries of create_data's steps pile up in the
    peak. :data:`POOL` allocates through the same ``malloc``. A call costs well under a
    millisecond; without glibc (macOS, Windows) it does nothing.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # no C library of that name, or no glibc
        return None


_MALLOC_TRIM = _malloc_trim()


def take(values: pa.ChunkedArray, rows: np.ndarray, pool: pa.MemoryPool | None = None) -> pa.ChunkedArray:
    """``values.take(rows)`` for ascending ``rows``, without first joining the chunks into one.

    Arrow's take on a chunked string column concatenates all chunks first: a full copy of the
    column for every call. This takes each block of rows from the chunks that hold it, so only
    the rows taken are copied, and the result comes in chunks of :data:`BLOCK_ROWS` rows whatever
    the chunks of ``values`` (they depend on how the file was read, e.g. on the number of cores).
    """
    bounds = np.cumsum([0] + [len(c) for c in values.chunks])
    blocks = []
    for start in range(0, len(rows), BLOCK_ROWS):
        block = rows[start : start + BLOCK_ROWS]
        cuts = np.searchsorted(block, bounds)
        pieces = [
            pc.take(chunk, block[cuts[i] : cuts[i + 1]] - bounds[i], memory_pool=pool)
            for i, chunk in enumerate(values.chunks)
            if cuts[i + 1] > cuts[i]
        ]
        blocks.append(pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces, memory_pool=pool))
    return pa.chunked_array(blocks, type=values.type)


def strings(values: pd.Series) -> pa.ChunkedArray | None:
    """The Arrow strings behind a pandas string column (not copied), or None for any other dtype."""
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        return None
    arr = pa.array(values.array)
    arr = arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])
    return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())


def take_series(values: pd.Series, rows: np.ndarray) -> pd.Series:
    """``values.take(rows).reset_index(drop=True)`` for ascending ``rows`` (a string column comes back
    as dtype "string")."""
    text = strings(values)
    if text is None:
        return values.take(rows).reset_index(drop=True)
    return pd.Series(pd.arrays.ArrowStringArray(take(text, rows, POOL)), name=values.name)


def take_table(table: pa.Table, rows: np.ndarray, pool: pa.MemoryPool | None = None) -> pa.Table:
    """``table.take(rows)`` for ascending ``rows``, column by column with :func:`take`."""
    return pa.table([take(column, rows, pool) for column in table.columns], schema=table.schema)
