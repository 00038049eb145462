"""The inference job: score an input in chunks with one registered model version, save the results.

Output: ``{output_root}/{model_name}/v{version}/{run_timestamp}/`` (a logged model never registered:
``{output_root}/m-<id>/{run_timestamp}/``) with ``predictions.parquet`` and ``metadata.json``,
written to a temporary folder and renamed into place (never overwritten). A classifier writes the
predicted class and one probability per class; a regressor (a version tagged ``task=regression``)
writes the predicted number. When the input carries the label, the metrics go to an MLflow run
linked to the model version. An output root that cannot take the folder (a file in the path,
read-only, full) is an :class:`OutputError` (exit 2) and leaves nothing behind.
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
from bricksml.models import evaluate, tasks
from bricksml.params.inference import InferenceParams
from bricksml.progress import SILENT, Progress
from bricksml.tracking import modelstore, setup

#: Predictions of a regressor kept to describe their distribution (quantiles), whatever the rows.
_SAMPLED = 100_000


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
    task: str = tasks.CLASSIFICATION
    prediction_stats: dict[str, float] = field(default_factory=dict)  # a regressor's predictions
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def distribution(self) -> pd.DataFrame:
        """Rows per predicted class, or a regressor's predictions in a few numbers."""
        if self.task == tasks.REGRESSION:
            return pd.Series(self.prediction_stats, name="prediction", dtype=float).to_frame()
        counts = pd.Series(self.prediction_counts, name="rows").rename_axis("prediction")
        return counts.to_frame().assign(share=lambda f: (f["rows"] / max(self.rows, 1)).round(4))


@dataclass(frozen=True)
class Scoring:
    """What one run scores: the input, the model's columns and task, the columns that travel."""

    input: source.ScoringInput
    features: dict[str, pa.DataType | None]
    task: str
    classes: list[str]
    id_col: str | None
    label_col: str | None
    text_col: str | None
    carry: tuple[str, ...]

    @property
    def regression(self) -> bool:
        return self.task == tasks.REGRESSION

    def read_types(self) -> dict[str, pa.DataType | None]:
        """Columns to read with their types: the model's, then the id, label and carried columns."""
        types = dict(self.features)
        for extra in (self.id_col, self.label_col, *self.carry):
            if extra and extra not in types:
                types[extra] = (
                    (pa.float64() if self.regression else pa.string()) if extra == self.label_col else None
                )
        return _readable(types, self.input.files)


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
    features = model_columns(resolved)
    if params.input_table:  # checks the very artifact its UDF loads, before the table is read
        return _score_table(params, resolved, list(features), started, progress)
    model = modelstore.load(resolved.load_uri, allow_unsafe_formats=params.allow_unsafe_model_formats)
    scoring = open_scoring(params, resolved, model, features)  # before anything is written
    scored_at = dt.datetime.now(dt.timezone.utc)
    target = layout.inference_dir(params.output_location, resolved.output_folder, scored_at_stamp(scored_at))
    progress.step(f"scoring {scoring.input.description} -> {target}")
    state = (
        _Numbers(scoring.label_col) if scoring.regression else _Classes(scoring.classes, scoring.label_col)
    )

    def write(tmp: Path) -> None:
        write_predictions(tmp, model, scoring, state, resolved, scored_at, params.batch_size, progress)
        meta = metadata(params, resolved, scoring, state, scored_at, started)
        (tmp / layout.METADATA).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    _publish(params, target, write)
    metrics = state.metrics()
    mlflow_run_id = _log_run(params, resolved, scoring.input, target, state, metrics)
    if state.null_text:
        progress.step(f"{state.null_text} rows had no text and were scored as empty text")
    return InferenceResult(
        output_path=str(target),
        rows=state.rows,
        model_uri=resolved.model_uri,
        model_name=resolved.model_name,
        model_version=resolved.version,
        model_run_id=resolved.run_id,
        input=scoring.input.description,
        input_digest=scoring.input.digest,
        null_text=state.null_text,
        prediction_counts=state.prediction_counts(),
        metrics=metrics,
        mlflow_run_id=mlflow_run_id,
        seconds=round(time.perf_counter() - started, 3),
        task=scoring.task,
        prediction_stats=state.prediction_stats(),
    )


def model_columns(resolved: ResolvedModel) -> dict[str, pa.DataType | None]:
    """The model's input columns and their types, from its signature (a model without one is refused)."""
    info = mlflow.models.get_model_info(resolved.load_uri)
    if info.signature is None or info.signature.inputs is None:
        raise DataError(f"{resolved.model_uri} has no input signature; it cannot be scored safely")
    return source.model_types(info.signature.inputs)


def open_scoring(
    params: InferenceParams, resolved: ResolvedModel, model: Any, features: dict[str, pa.DataType | None]
) -> Scoring:
    """The input the parameters name, checked against the model: ``input_path``, else a split."""
    tags = resolved.tags
    label_col, id_col = tags.get("label_col") or None, tags.get("id_col") or None
    if params.input_path:
        found = source.open_path(params.input_path, label_col, id_col)
    else:
        version = open_version(params.data_root, params.data_name, params.data_version)
        found = source.open_split(version, params.split or version.evaluation_split, id_col)
    check_columns(params, list(features), list(found.columns), f"input {found.description}")
    task = tasks.of_tags(tags)
    return Scoring(
        input=found,
        features=features,
        task=task,
        classes=[] if task == tasks.REGRESSION else [str(c) for c in model.classes_],
        id_col=found.id_col if found.id_col in found.columns else None,
        label_col=found.label_col if found.label_col in found.columns else None,
        text_col=tags.get("text_col") or None,
        carry=params.carry_columns,
    )


def scored_at_stamp(scored_at: dt.datetime) -> str:
    return scored_at.strftime("%Y%m%dT%H%M%S%fZ")


def write_predictions(
    tmp: Path,
    model: Any,
    scoring: Scoring,
    state: _Classes | _Numbers,
    resolved: ResolvedModel,
    scored_at: dt.datetime,
    batch_size: int,
    progress: Progress,
) -> None:
    """Read, score and write ``batch_size`` rows at a time: memory does not grow with the input."""
    writer: pq.ParquetWriter | None = None
    features = list(scoring.features)
    try:
        for frame in source.iter_frames(scoring.input.files, scoring.read_types(), batch_size):
            if scoring.text_col in frame:
                state.null_text += int(frame[scoring.text_col].isna().sum())
            answer = _predict(model, frame[features], state.rows, scoring.regression)
            table = _output_table(frame, answer, scoring, resolved, scored_at, state.rows)
            state.add(frame, answer)
            if writer is None:
                writer = pq.ParquetWriter(tmp / layout.PREDICTIONS, table.schema, compression="zstd")
            writer.write_table(table)
            progress.step(f"scored {state.rows} rows")
        if writer is None:
            raise DataError(f"input {scoring.input.description} has no rows to score")
    finally:
        if writer is not None:
            writer.close()


def metadata(
    params: InferenceParams,
    resolved: ResolvedModel,
    scoring: Scoring,
    state: _Classes | _Numbers,
    scored_at: dt.datetime,
    started: float,
) -> dict[str, Any]:
    return {
        "model": {
            "asked": resolved.asked,
            "model_uri": resolved.model_uri,
            "model_name": resolved.model_name,
            "model_version": resolved.version,
            "run_id": resolved.run_id,
            tasks.TAG: scoring.task,
            "classes": scoring.classes,
        },
        "input": {
            "source": scoring.input.description,
            "files": [str(f) for f in scoring.input.files],
            "digest": scoring.input.digest,
        },
        "rows": state.rows,
        "null_text": state.null_text,
        "prediction_counts": state.prediction_counts(),
        **({"prediction_stats": state.prediction_stats()} if scoring.regression else {}),
        "metrics": state.metrics(),
        "batch_size": params.batch_size,
        "scored_at": scored_at.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 3),
        "parameters": params.to_strings(),
        "bricksml_version": __version__,
    }


def _score_table(
    params: InferenceParams, resolved: ResolvedModel, features: list[str], started: float, progress: Progress
) -> InferenceResult:
    """A Spark table, scored by Spark: same output folder layout, predictions as Parquet parts."""
    table = spark.open_table(params.input_table)  # fail before anything is written
    check_columns(params, features, list(table.columns), f"input_table {params.input_table}")
    task = tasks.of_tags(resolved.tags)
    id_col = resolved.tags.get("id_col")
    keep = list(dict.fromkeys(c for c in (id_col, *params.carry_columns) if c and c in table.columns))
    stamp = scored_at_stamp(dt.datetime.now(dt.timezone.utc))
    target = layout.inference_dir(params.output_location, resolved.output_folder, stamp)
    written: dict[str, Any] = {}

    def write(tmp: Path) -> None:
        written.update(spark.score_table(table, model_dir, features, keep, resolved.version, tmp, task))
        meta = {
            "model": {
                "asked": resolved.asked,
                "model_uri": resolved.model_uri,
                "model_name": resolved.model_name,
                "model_version": resolved.version,
                "model_id": resolved.model_id,
                "run_id": resolved.run_id,
                tasks.TAG: task,
            },
            "input": {"table": params.input_table},
            "rows": written["rows"],
            "prediction_counts": written["counts"],
            **({"prediction_stats": written["stats"]} if task == tasks.REGRESSION else {}),
            "parameters": params.to_strings(),
            "bricksml_version": __version__,
        }
        (tmp / layout.METADATA).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    with spark.checked_model(resolved.load_uri, params.allow_unsafe_model_formats) as model_dir:
        progress.step(f"scoring table {params.input_table} with Spark -> {target}")
        _publish(params, target, write)
    return InferenceResult(
        output_path=str(target),
        rows=written["rows"],
        model_uri=resolved.model_uri,
        model_name=resolved.model_name,
        model_version=resolved.version,
        model_run_id=resolved.run_id,
        input=params.input_table,
        input_digest="",
        null_text=0,
        prediction_counts=written["counts"],
        metrics=None,
        mlflow_run_id=None,
        seconds=round(time.perf_counter() - started, 3),
        task=task,
        prediction_stats=written.get("stats", {}),
    )


def _predict(model: Any, frame: pd.DataFrame, offset: int, regression: bool) -> np.ndarray:
    """Class probabilities, or a regressor's numbers; what the pipeline refuses in the data is the
    data's problem."""
    try:
        return (
            np.asarray(model.predict(frame), dtype=np.float64) if regression else model.predict_proba(frame)
        )
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


class _Classes:
    """Running counts of a classifier and, when labels are present, what the metrics need (a few
    bytes per row)."""

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

    def prediction_stats(self) -> dict[str, float]:
        return {}

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


class _Numbers:
    """A regressor's predictions in running numbers (mean, spread, a bounded sample for quantiles)
    and, when labels are present, the labelled pairs the metrics need (16 bytes a row)."""

    def __init__(self, label_col: str | None) -> None:
        self.label_col = label_col
        self.rows = 0
        self.null_text = 0
        self.total = 0.0
        self.squares = 0.0
        self.low = np.inf
        self.high = -np.inf
        self.sample = np.zeros(0, dtype=np.float32)
        self.rate = 1.0  # each prediction is in the sample with this chance: a uniform sample
        self.labels: list[np.ndarray] = []
        self.predicted: list[np.ndarray] = []
        self._rng = np.random.default_rng(0)
        self._metrics: dict[str, float] | None = None

    def add(self, frame: pd.DataFrame, predicted: np.ndarray) -> None:
        self.rows += len(frame)
        self.total += float(predicted.sum())
        self.squares += float((predicted**2).sum())
        if len(predicted):
            self.low, self.high = (
                min(self.low, float(predicted.min())),
                max(self.high, float(predicted.max())),
            )
        drawn = predicted[self._rng.random(len(predicted)) < self.rate].astype(np.float32)
        self.sample = np.concatenate([self.sample, drawn])
        while len(self.sample) > 2 * _SAMPLED:  # halve the rate, and keep each kept one at even odds
            self.sample = self.sample[self._rng.random(len(self.sample)) < 0.5]
            self.rate /= 2
        if self.label_col:
            self.labels.append(frame[self.label_col].to_numpy(dtype=np.float64, na_value=np.nan))
            self.predicted.append(predicted)

    def prediction_counts(self) -> dict[str, int]:
        return {}

    def prediction_stats(self) -> dict[str, float]:
        if not self.rows:
            return {}
        mean = self.total / self.rows
        kept = self.sample
        points = np.quantile(kept, (0.05, 0.25, 0.5, 0.75, 0.95)) if len(kept) else [np.nan] * 5
        return {
            "mean": mean,
            "std": float(np.sqrt(max(self.squares / self.rows - mean**2, 0.0))),
            "min": self.low,
            "max": self.high,
            **{f"p{q:02d}": float(v) for q, v in zip((5, 25, 50, 75, 95), points, strict=True)},
        }

    def metrics(self) -> dict[str, float] | None:
        """RMSE, MAE, R2, MAPE (no label 0), median absolute error over the labelled rows."""
        if self._metrics is None and self.label_col and self.labels:
            y = np.concatenate(self.labels)
            known = np.isfinite(y)
            if known.any():
                out = evaluate.regression_metrics(y[known], np.concatenate(self.predicted)[known])
                out["labelled_rows"] = float(known.sum())
                out["unlabelled_or_unknown_rows"] = float((~known).sum())
                self._metrics = out
        return self._metrics


def _output_table(
    frame: pd.DataFrame,
    answer: np.ndarray,
    scoring: Scoring,
    resolved: ResolvedModel,
    scored_at: dt.datetime,
    offset: int,
) -> pa.Table:
    n = len(frame)
    columns: dict[str, pa.Array] = {}
    if scoring.id_col:
        columns[scoring.id_col] = pa.array(frame[scoring.id_col])
    else:
        columns[layout.ROW_NUMBER] = pa.array(np.arange(offset, offset + n, dtype=np.int64))
    for name in scoring.carry:
        if name not in columns:
            columns[name] = pa.array(frame[name])
    if scoring.regression:
        columns["prediction"] = pa.array(answer, pa.float64())
    else:
        best = np.argmax(answer, axis=1).astype(np.int32)
        columns["prediction"] = pa.DictionaryArray.from_arrays(pa.array(best), pa.array(scoring.classes))
        for index, label in enumerate(scoring.classes):
            columns[f"probability_{label}"] = pa.array(answer[:, index].astype(np.float64))
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
    state: _Classes | _Numbers,
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
        tasks.TAG: tasks.of_tags(resolved.tags),
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
        mlflow.log_artifact(str(target / layout.METADATA))
    return run.info.run_id
