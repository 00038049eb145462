"""The current window: every prediction of one model version between two moments, as one frame.

By default it is the version's batch predictions (the inference job's output folders) and its
serving request log between ``since`` and ``until``; an explicit file, folder or table replaces
both. Labels join on the id column, from the inputs themselves or from a labels file or table.
The frame has the model's input columns and the columns of :mod:`bricksml.monitoring.columns`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bricksml import layout, runtime
from bricksml.data import readers
from bricksml.errors import DataError, first_line
from bricksml.layout import METADATA, PREDICTIONS
from bricksml.monitoring import batches, requests
from bricksml.monitoring import columns as C


@dataclass
class Window:
    """The rows of a window, where they came from, and the request counts of the serving log."""

    since: dt.datetime
    until: dt.datetime
    frame: pd.DataFrame
    sources: list[str]
    requests: int = 0
    failed_requests: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def with_inputs(self) -> pd.DataFrame:
        known = self.frame[C.HAS_INPUTS].astype(bool)
        return self.frame if known.all() else self.frame[known]

    @property
    def labelled(self) -> pd.DataFrame:
        if C.LABEL not in self.frame:
            return self.frame.iloc[:0]
        return self.frame[self.frame[C.LABEL].notna()]


@dataclass(frozen=True)
class Model:
    """What reading a window needs to know about the model version."""

    name: str
    version: str
    output_folder: str
    inputs: list[str]
    label_col: str | None
    id_col: str | None


def collect(
    model: Model,
    since: dt.datetime,
    until: dt.datetime,
    output_location: str,
    request_table: str | None,
) -> Window:
    """The version's batch outputs and logged requests in ``[since, until)``."""
    found = batches.find(output_location, model.output_folder, since, until)
    parts = [batches.read(b, model.inputs, model.label_col, model.id_col) for b in found]
    sources = [str(b.path) for b in found]
    window = Window(since, until, _concat(parts, model.inputs), sources)
    gone = [b.path.name for b, part in zip(found, parts, strict=True) if not part[C.HAS_INPUTS].any()]
    if gone:
        listed = ", ".join(gone[:3])
        window.notes.append(f"{len(gone)} batch(es) without their input files (predictions only): {listed}")
    if request_table:
        logged = requests.read(request_table, since, until, model.name, model.version, model.inputs)
        window.requests, window.failed_requests = logged.requests, logged.failed
        window.sources.append(request_table)
        window.frame = _concat([window.frame, logged.frame], model.inputs)
        if logged.unreadable:
            window.notes.append(
                f"{logged.unreadable} answered request(s) were logged without a readable body"
            )
    return window


def explicit(model: Model, since: dt.datetime, until: dt.datetime, path: str = "", table: str = "") -> Window:
    """A window given as a file, a folder (an inference output folder too) or a table.

    Without a ``prediction`` column its rows have no predictions yet (the job scores them).
    """
    if table:
        frame, where = _table(table), f"input_table {table!r}"
    else:
        real = layout.real_path(path)
        where = f"input_path {path!r}"
        if (real / METADATA).is_file() and (real / PREDICTIONS).is_file():
            moment = batches.stamp_time(real.name) or since
            batch = batches.Batch(real, moment, json.loads((real / METADATA).read_text()))
            part = batches.read(batch, model.inputs, model.label_col, model.id_col)
            return Window(since, until, _concat([part], model.inputs), [str(real)])
        frame = _files(real, path)
    missing = [c for c in model.inputs if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where} lacks the model's column(s) {missing}; it has {list(frame.columns)}: "
            "give the window the columns the model reads"
        )
    out = pd.DataFrame({c: frame[c].to_numpy() for c in model.inputs})
    out[C.PREDICTION] = frame["prediction"].to_numpy() if "prediction" in frame else None
    probabilities = [c for c in frame.columns if c.startswith(batches.PROBABILITY_PREFIX)]
    out[C.CONFIDENCE] = frame[probabilities].max(axis=1).to_numpy() if probabilities else np.nan
    out[C.ID] = frame[model.id_col].astype(str).to_numpy() if model.id_col in frame else None
    if model.label_col and model.label_col in frame:
        out[C.LABEL] = frame[model.label_col].to_numpy()
    out[C.SOURCE] = where
    out[C.HAS_INPUTS] = True
    return Window(since, until, out, [where])


def join_labels(window: Window, labels: pd.DataFrame, id_col: str, label_col: str, where: str) -> None:
    """Labels from a file or table, joined on the id; refused when none of them joins."""
    missing = [c for c in (id_col, label_col) if c not in labels.columns]
    if missing:
        raise DataError(f"{where} lacks the column(s) {missing}; it has {list(labels.columns)}")
    if window.frame[C.ID].isna().all():
        raise DataError(
            f"{where}: the window's rows have no {id_col!r} to join labels on (score inputs that carry "
            "the id column, or give labels with the window's own rows)"
        )
    known = labels.dropna(subset=[label_col]).drop_duplicates(subset=[id_col], keep="last")
    by_id = pd.Series(known[label_col].to_numpy(), index=known[id_col].astype(str).to_numpy())
    joined = window.frame[C.ID].map(by_id)
    matched = int(joined.notna().sum())
    if matched == 0:
        sample = ", ".join(repr(v) for v in known[id_col].astype(str).head(3))
        ours = ", ".join(repr(v) for v in window.frame[C.ID].dropna().astype(str).head(3))
        raise DataError(
            f"{where}: none of its {len(known)} labels joins the window's {window.rows} rows on {id_col!r}"
            f" (labels have ids {sample}; the window {ours}); give the labels of these predictions"
        )
    if C.LABEL in window.frame:
        joined = joined.where(joined.notna(), window.frame[C.LABEL])
    window.frame[C.LABEL] = joined
    window.notes.append(f"{matched} of {window.rows} rows labelled from {where}")


def read_labels(path: str = "", table: str = "") -> tuple[pd.DataFrame, str]:
    """A labels file, folder or table as a frame, and how to name it in messages."""
    if table:
        return _table(table), f"labels_table {table!r}"
    return _files(layout.real_path(path), path, parameter="labels_path"), f"labels_path {path!r}"


def _concat(parts: list[pd.DataFrame], inputs: list[str]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=[*inputs, C.PREDICTION, C.CONFIDENCE, C.ID, C.SOURCE, C.HAS_INPUTS])
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    for column in inputs:
        if column not in frame:
            frame[column] = np.nan
    return frame


def _files(real: Path, given: str, parameter: str = "input_path") -> pd.DataFrame:
    if not real.exists():
        raise DataError(f"{parameter} {given!r} does not exist; pass an existing file or folder")
    files = (
        [real]
        if real.is_file()
        else sorted(p for p in real.iterdir() if p.is_file() and not p.name.startswith((".", "_")))
    )
    files = [f for f in files if f.suffix.lower() in readers.FORMATS]
    if not files:
        known = ", ".join(sorted(readers.FORMATS))
        raise DataError(f"{parameter} {given!r} holds no file bricksml reads ({known})")
    parts = []
    for file in files:
        fmt = readers.FORMATS[file.suffix.lower()]
        try:
            if fmt == "parquet":
                parts.append(pd.read_parquet(file))
            elif fmt == "jsonl":
                parts.append(pd.read_json(file, lines=True, dtype=False))
            else:
                parts.append(pd.read_csv(file, sep="\t" if fmt == "tsv" else ","))
        except (OSError, ValueError) as exc:
            raise DataError(
                f"{parameter} {given!r}: {file.name} cannot be read as {fmt} ({first_line(exc, limit=160)})"
            ) from None
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _table(name: str) -> pd.DataFrame:
    """A table's rows: through Spark on Databricks, the local mirror's Parquet folder here."""
    if runtime.on_databricks():
        from pyspark.sql import SparkSession

        return SparkSession.builder.getOrCreate().table(name).toPandas()
    folder = layout.local_table_dir(name)
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        raise DataError(f"table {name} does not exist (no Parquet files in {folder})")
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
