"""The inference job: score an input in chunks with one registered model version, save the results.

Output: ``{output_root}/{model_name}/v{version}/{run_timestamp}/`` (a logged model never registered:
``{output_root}/m-<id>/{run_timestamp}/``) with ``predictions.parquet`` and ``metadata.json``,
written to a temporary folder and renamed into place (never overwritten).
When the input carries the label, the metrics go to an MLflow run linked to the model version.
An output root that cannot take the folder (a file in the path, read-only, full) is an
:class:`OutputError` (exit 2) and leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bricksml import __version__, layout, runtime
from bricksml.data.store import publish_new
from bricksml.data.versions import open_version
from bricksml.errors import DataError, OutputError, first_line
from bricksml.inference import source, spark
from bricksml.inference.model import ResolvedModel, resolve_ref
from bricksml.models import evaluate
from bricksml.params.inference import InferenceParams
from bricksml.progress import SILENT, Progress
from bricksml.tracking import modelstore, setup

PREDICTIONS = "predictions.parquet"
METADATA = "metadata.json"
ROW_NUMBER = "row_number"


@dataclass
class InferenceResult:
    """Where the predictions are and what produced them."""

    output_path: str
    rows: int
    model_uri: str
    model_name: str
    model_version: str
    model_run_id: str
    input: str
    input_digest: str
    null_text: int
    prediction_counts: dict[str, int]
    metrics: dict[str, float] | None
    mlflow_run_id: str | None
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def distribution(self) -> pd.DataFrame:
        counts = pd.Series(self.prediction_counts, name="rows").rename_axis("prediction")
        return counts.to_frame().assign(share=lambda f: (f["rows"] / max(self.rows, 1)).round(4))


def check_columns(params: InferenceParams, features: list[str], columns: list[str], what: str) -> None:
    """The model's columns and the columns to carry must be in the input, before anything is written."""
    missing = [c for c in features if c not in columns]
    if missing:
        raise DataError(f"{what} lacks the model's column(s) {missing}; it has {columns}")
    unknown_carry = [c for c in params.carry_columns if c not in columns]
    if unknown_carry:
        params.fail("carry_columns", f"columns of the input ({', '.join(columns)})", unknown_carry[0])


def run_inference(params: InferenceParams, progress: Progress = SILENT) -> InferenceResult:
    """Score the input with the resolved model, in chunks of ``batch_size`` rows."""
    started = time.perf_counter()
    setup.configure()
    resolved = resolve_ref(*params.model_ref())
    progress.step(f"model {resolved.model_uri} (asked: {resolved.asked})")
    info = mlflow.models.get_model_info(resolved.load_uri)
    if info.signature is None or info.signature.inputs is None:
        raise DataError(f"{resolved.model_uri} has no input signature; it cannot be scored safely")
    features = source.model_types(info.signature.inputs)
    if params.input_table:  # checks the very artifact its UDF loads, before the table is read
        return _score_table(params, resolved, list(features), started, progress)
    # Before any input is read.
    model = modelstore.load(resolved.load_uri, allow_unsafe_formats=params.allow_unsafe_model_formats)
    classes = [str(c) for c in model.classes_]

    tags = resolved.tags
    scoring = _open_input(params, tags.get("label_col") or None, tags.get("id_col") or None)
    check_columns(params, features, list(scoring.columns), f"input {scoring.description}")
    id_col = scoring.id_col if scoring.id_col in scoring.columns else None
    label_col = scoring.label_col if scoring.label_col in scoring.columns else None
    types = dict(features)
    for extra in (id_col, label_col, *params.carry_columns):
        if extra and extra not in types:
            types[extra] = pa.string() if extra == label_col else None
    text_col = tags.get("text_col") or None

    scored_at = dt.datetime.now(dt.timezone.utc)
    stamp = scored_at.strftime("%Y%m%dT%H%M%S%fZ")
    target = layout.inference_dir(params.output_location, resolved.output_folder, stamp)
    state = _Accumulator(classes, label_col)

    def write(tmp: Path) -> None:
        writer: pq.ParquetWriter | None = None
        try:
            for frame in source.iter_frames(
                scoring.files, _readable(types, scoring.files), params.batch_size
            ):
                if text_col in frame:
                    state.null_text += int(frame[text_col].isna().sum())
                proba = _predict(model, frame[list(features)], state.rows)
                table = _output_table(
                    frame, proba, classes, id_col, params.carry_columns, resolved, scored_at, state.rows
                )
                state.add(frame, proba)
                if writer is None:
                    writer = pq.ParquetWriter(tmp / PREDICTIONS, table.schema, compression="zstd")
                writer.write_table(table)
                progress.step(f"scored {state.rows} rows")
            if writer is None:
                raise DataError(f"input {scoring.description} has no rows to score")
        finally:
            if writer is not None:
                writer.close()
        (tmp / METADATA).write_text(json.dumps(metadata(), indent=2, sort_keys=True) + "\n")

    def metadata() -> dict[str, Any]:
        return {
            "model": {
                "asked": resolved.asked,
                "model_uri": resolved.model_uri,
                "model_name": resolved.model_name,
                "model_version": resolved.version,
                "run_id": resolved.run_id,
                "classes": classes,
            },
            "input": {
                "source": scoring.description,
                "files": [str(f) for f in scoring.files],
                "digest": scoring.digest,
            },
            "rows": state.rows,
            "null_text": state.null_text,
            "prediction_counts": state.prediction_counts(),
            "metrics": state.metrics(),
            "batch_size": params.batch_size,
            "scored_at": scored_at.isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - started, 3),
            "parameters": params.to_strings(),
            "bricksml_version": __version__,
        }

    progress.step(f"scoring {scoring.description} -> {target}")
    _publish(params, target, write)
    metrics = state.metrics()
    mlflow_run_id = _log_run(params, resolved, scoring, target, state, metrics)
    if state.null_text:
        progress.step(f"{state.null_text} rows had no text and were scored as empty text")
    return InferenceResult(
        output_path=str(target),
        rows=state.rows,
        model_uri=resolved.model_uri,
        model_name=resolved.model_name,
        model_version=resolved.version,
        model_run_id=resolved.run_id,
        input=scoring.description,
        input_digest=scoring.digest,
        null_text=state.null_text,
        prediction_counts=state.prediction_counts(),
        metrics=metrics,
        mlflow_run_id=mlflow_run_id,
        seconds=round(time.perf_counter() - started, 3),
    )


def _open_input(params: InferenceParams, label_col: str | None, id_col: str | None) -> source.ScoringInput:
    """The input the parameters name: ``input_path``, else a split of a data version."""
    if params.input_path:
        return source.open_path(params.input_path, label_col, id_col)
    version = open_version(params.data_root, params.data_name, params.data_version)
    return source.open_split(version, params.split or version.evaluation_split, id_col)


def _score_table(
    params: InferenceParams, resolved: ResolvedModel, features: list[str], started: float, progress: Progress
) -> InferenceResult:
    """A Spark table, scored by Spark: same output folder layout, predictions as Parquet parts."""
    table = spark.open_table(params.input_table)  # fail before anything is written
    check_columns(params, features, list(table.columns), f"input_table {params.input_table}")
    id_col = resolved.tags.get("id_col")
    keep = list(dict.fromkeys(c for c in (id_col, *params.carry_columns) if c and c in table.columns))
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = layout.inference_dir(params.output_location, resolved.output_folder, stamp)
    counts: dict[str, int] = {}

    def write(tmp: Path) -> None:
        counts.update(spark.score_table(table, model_dir, features, keep, resolved.version, tmp))
        meta = {
            "model": {
                "asked": resolved.asked,
                "model_uri": resolved.model_uri,
                "model_name": resolved.model_name,
                "model_version": resolved.version,
                "model_id": resolved.model_id,
                "run_id": resolved.run_id,
            },
            "input": {"table": params.input_table},
            "rows": sum(counts.values()),
            "prediction_counts": counts,
            "parameters": params.to_strings(),
            "bricksml_version": __version__,
        }
        (tmp / METADATA).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    with spark.checked_model(resolved.load_uri, params.allow_unsafe_model_formats) as model_dir:
        progress.step(f"scoring table {params.input_table} with Spark -> {target}")
        _publish(params, target, write)
    return InferenceResult(
        output_path=str(target),
        rows=sum(counts.values()),
        model_uri=resolved.model_uri,
        model_name=resolved.model_name,
        model_version=resolved.version,
        model_run_id=resolved.run_id,
        input=params.input_table,
        input_digest="",
        null_text=0,
        prediction_counts=counts,
        metrics=None,
        mlflow_run_id=None,
        seconds=round(time.perf_counter() - started, 3),
    )


def _predict(model: Any, frame: pd.DataFrame, offset: int) -> np.ndarray:
    """The class probabilities; what the pipeline refuses in the data is the data's problem."""
    try:
        return model.predict_proba(frame)
    except ValueError as exc:  # the input columns were converted to the signature's types first
        rows = f"rows {offset + 1}-{offset + len(frame)}"
        raise DataError(f"the model cannot score input {rows}: {first_line(exc)}") from None


def _publish(params: InferenceParams, target: Path, write: Callable[[Path], None]) -> None:
    """Publish the output folder; a location that cannot take it is the ``output_root``'s fault.

    Folders this run created for it are removed again when empty: a failure leaves nothing.
    """
    created = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    try:
        publish_new(target, write, what=f"inference output {target.name}")
    except BaseException as exc:
        for folder in created:  # deepest first
            try:
                folder.rmdir()
            except (FileNotFoundError, NotADirectoryError):  # never made: the failure came first
                continue
            except OSError:  # not empty: another run writes there too
                break
        if isinstance(exc, OSError):  # reading errors are DataErrors already: this is the output side
            raise OutputError(_output_problem(params.output_location, target, exc)) from None
        raise


def _output_problem(root: str, target: Path, exc: OSError) -> str:
    where = f"output_root {root!r}"
    blocking = next((p for p in target.parents if p.is_file()), None)
    if blocking is not None or exc.errno in (errno.ENOTDIR, errno.EEXIST):
        found = f"{blocking} is a file" if blocking is not None else "a file is in the way"
        return f"{where}: {found}, not a folder; choose a folder for the predictions"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{where}: no space left on the device of {target.parent}; free space or choose another folder"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{where}: {target.parent} is not writable ({exc.strerror}); choose a writable folder"
    reason = exc.strerror or type(exc).__name__
    return f"{where}: cannot write {target.parent} ({reason}); choose another folder"


def _readable(types: dict[str, pa.DataType | None], files: list[Path]) -> dict[str, pa.DataType | None]:
    """Columns to read with their types; id and carried columns keep their own type where files have one."""
    text_files = any(f.suffix.lower() not in (".parquet", ".pq") for f in files)
    return {
        name: (t if t is not None else (pa.string() if text_files else None)) for name, t in types.items()
    }


class _Accumulator:
    """Running counts and, when labels are present, what the metrics need (a few bytes per row)."""

    def __init__(self, classes: list[str], label_col: str | None) -> None:
        self.classes = classes
        self.label_col = label_col
        self.rows = 0
        self.null_text = 0
        self.counts = np.zeros(len(classes), dtype=np.int64)
        self.labels: list[np.ndarray] = []
        self.probas: list[np.ndarray] = []
        self._metrics: dict[str, float] | None = None

    def add(self, frame: pd.DataFrame, proba: np.ndarray) -> None:
        self.rows += len(frame)
        self.counts += np.bincount(np.argmax(proba, axis=1), minlength=len(self.classes))
        if self.label_col:
            # Labels as class codes (-1: missing or a class the model does not know): 1 byte a row.
            codes = pd.Categorical(frame[self.label_col], categories=self.classes).codes
            self.labels.append(codes.astype(np.int16))
            self.probas.append(proba.astype(np.float32))

    def prediction_counts(self) -> dict[str, int]:
        return {c: int(n) for c, n in zip(self.classes, self.counts, strict=True)}

    def metrics(self) -> dict[str, float] | None:
        """Metrics over the labelled rows, computed once (they are costly on millions of rows)."""
        if self._metrics is None and self.label_col and self.labels:
            codes = np.concatenate(self.labels)
            known = codes >= 0
            if known.any():
                proba = np.concatenate(self.probas)[known].astype(np.float64)
                proba /= proba.sum(axis=1, keepdims=True)  # stored as float32: rows sum to one again
                indices = list(range(len(self.classes)))
                raw = evaluate.classification_metrics(codes[known], proba, indices)
                out = {}
                for key, value in raw.items():
                    if key.startswith("f1_class_"):
                        key = "f1_class_" + evaluate.metric_key(self.classes[int(key[len("f1_class_") :])])
                    out[key] = value
                out["labelled_rows"] = float(known.sum())
                out["unlabelled_or_unknown_rows"] = float((~known).sum())
                self._metrics = out
        return self._metrics


def _output_table(
    frame: pd.DataFrame,
    proba: np.ndarray,
    classes: list[str],
    id_col: str | None,
    carry: tuple[str, ...],
    resolved: ResolvedModel,
    scored_at: dt.datetime,
    offset: int,
) -> pa.Table:
    n = len(frame)
    columns: dict[str, pa.Array] = {}
    if id_col:
        columns[id_col] = pa.array(frame[id_col])
    else:
        columns[ROW_NUMBER] = pa.array(np.arange(offset, offset + n, dtype=np.int64))
    for name in carry:
        if name not in columns:
            columns[name] = pa.array(frame[name])
    best = np.argmax(proba, axis=1).astype(np.int32)
    columns["prediction"] = pa.DictionaryArray.from_arrays(pa.array(best), pa.array(classes))
    for index, label in enumerate(classes):
        columns[f"probability_{label}"] = pa.array(proba[:, index].astype(np.float64))
    columns["model_version"] = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([resolved.version])
    )
    columns["scored_at"] = pa.array(
        np.full(n, np.datetime64(scored_at.replace(tzinfo=None), "us")), pa.timestamp("us", tz="UTC")
    )
    return pa.table(columns)


def _log_run(
    params: InferenceParams,
    resolved: ResolvedModel,
    scoring: source.ScoringInput,
    target: Path,
    state: _Accumulator,
    metrics: dict[str, float] | None,
) -> str | None:
    """An MLflow run of this scoring job, tagged with the model version (metrics when labelled)."""
    experiment_id = setup.experiment_id(params.experiment_name)
    tags = {
        "bricksml.job": "inference",
        "model_name": resolved.model_name,
        "model_version": resolved.version,
        "model_uri": resolved.model_uri,
        "model_run_id": resolved.run_id,
        "input": scoring.description,
        "input_digest": scoring.digest,
        "output_path": str(target),
        "bundle_target": runtime.bundle_target(),
        "bricksml_version": __version__,
    }
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"score-{resolved.label}", tags=tags) as run:
        mlflow.log_params({"batch_size": params.batch_size, "input": scoring.description})
        values = {"rows": float(state.rows), "null_text_rows": float(state.null_text)}
        if metrics:
            values.update({f"inference_{k}": v for k, v in metrics.items()})
        mlflow.log_metrics(values, model_id=resolved.model_id)
        mlflow.log_artifact(str(target / METADATA))
    return run.info.run_id
