"""The monitor job: one window of a model version's predictions against its reference, and what follows.

Reference: the version's training split, found through its lineage tags (or a data version
given); its answers are the version's predictions on the held-out split. Window: the version's
batch outputs and serving request log between ``since`` and ``until`` (or a file, folder or table
given). Every signal is graded against its thresholds, the worst grade is the decision; the report
(``summary.json``, ``report.html``, PNGs) is published atomically under
``{output_root}/<model>/v<N>/monitoring/<stamp>/`` and logged to an MLflow run linked to the
version. Then the actions: task values for the job's retrain branch, a rollback of ``champion``,
and a failure when an alert should fail the task. Bad input fails before anything is written.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from bricksml import __version__, layout, runtime
from bricksml.data.versions import DataVersion, open_version
from bricksml.errors import BricksmlError, DataError, ExitCode, first_line
from bricksml.inference.model import ResolvedModel, resolve_ref
from bricksml.models.evaluate import metric_key
from bricksml.monitoring import columns as C
from bricksml.monitoring import performance, report
from bricksml.monitoring import window as windows
from bricksml.monitoring.reference import Judgement, Reference, predict
from bricksml.monitoring.signals import (
    ALERT,
    Signal,
    Thresholds,
    calls_for_retraining,
    decision,
    drifted_features,
    reasons,
    signal,
)
from bricksml.params.deploy import endpoint_name
from bricksml.params.monitor import MonitorParams
from bricksml.progress import SILENT, Progress
from bricksml.serving import request_log
from bricksml.tracking import model_refs, modelstore, registry, rollback, setup
from bricksml.tracking.model_refs import VersionRef

#: A version tagged ``task=regression`` is a regressor; any other (or none) a classifier.
REGRESSION = "regression"
#: The monitoring folder's name: the UTC time of the run, as the inference job names its folders.
STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"


class MonitorAlertError(BricksmlError):
    """The decision is ``alert`` and ``on_alert=fail`` asked for a failure; the report is written."""

    exit_code = ExitCode.REJECTED

    def __init__(self, message: str, data: object = None) -> None:
        super().__init__(message)
        self.data = data


@dataclass
class MonitorResult:
    """The window's decision and where its report is."""

    decision: str
    reasons: list[str]
    output_path: str
    summary: dict[str, Any]
    retrain: bool
    rollback: dict[str, Any] | None
    mlflow_run_id: str
    seconds: float
    task_values: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def signals_table(self) -> pd.DataFrame:
        """The signals as the notebook shows them, flagged first."""
        frame = pd.DataFrame(self.summary["signals"])
        order = frame["status"].map({"alert": 0, "warning": 1, "ok": 2})
        return frame.assign(_order=order).sort_values(["_order", "kind"]).drop(columns="_order")


def thresholds(params: MonitorParams) -> Thresholds:
    return Thresholds(
        psi=(params.psi_warning, params.psi_alert),
        missing=(params.missing_warning, params.missing_alert),
        new_categories=(params.new_category_warning, params.new_category_alert),
        oov=(params.oov_warning, params.oov_alert),
        confidence=(params.confidence_warning, params.confidence_alert),
        performance=(params.performance_warning, params.performance_alert),
        errors=(params.error_warning, params.error_alert),
        min_rows=params.min_rows,
    )


def resolve(params: MonitorParams) -> ResolvedModel:
    """The version to watch: ``run_id``, else ``model_uri``, else ``model_name`` at its alias."""
    return resolve_ref(
        *model_refs.chosen(params.run_id, params.model_uri, params.registered_model_name, params.model_alias)
    )


@dataclass(frozen=True)
class Watched:
    """The version being watched, loaded, with what its lineage says about its data."""

    resolved: ResolvedModel
    version: DataVersion  # the reference data version
    model: Any  # the fitted pipeline
    inputs: list[str]
    label_col: str
    id_col: str | None
    regression: bool

    @property
    def window_model(self) -> windows.Model:
        r = self.resolved
        return windows.Model(
            r.model_name, r.version, str(r.output_folder), self.inputs, self.label_col, self.id_col
        )

    def lineage(self, key: str) -> str:
        """A lineage value of the version (its tag), else the data version's own."""
        return self.resolved.tags.get(key) or getattr(self.version, key, None) or ""


def run_monitor(params: MonitorParams, progress: Progress = SILENT) -> MonitorResult:
    """Judge one window, publish its report, log it, and act on the decision."""
    started = time.perf_counter()
    since, until = params.window
    setup.configure()
    watched = watch(params)
    resolved, version = watched.resolved, watched.version
    progress.step(f"watching {resolved.model_uri} (asked: {resolved.asked}), window {since} to {until}")
    window = gather(params, watched, since, until)
    progress.step(f"window: {window.rows} rows from {len(window.sources)} source(s)")

    limits = thresholds(params)
    signals, judged = judge(params, watched, window, limits)
    degraded = _performance(params, watched, window, limits, signals)
    worst = decision(signals)
    retrain = params.on_drift == "retrain" and calls_for_retraining(signals)
    champion = registry.aliases(resolved.model_name).get(registry.CHAMPION) if resolved.version else None
    rollback_due = (
        params.on_degradation == "rollback" and degraded is not None and champion == resolved.version
    )

    stamp = dt.datetime.now(dt.timezone.utc).strftime(STAMP_FORMAT)
    target = layout.monitoring_dir(params.output_location, resolved.output_folder, stamp)
    retrain_version = params.retrain_data_version or f"{version.version}-r{until.strftime('%Y%m%dT%H%M%S')}"
    summary = _summary(watched, window, signals)
    if retrain:
        summary["reasons"].append(
            f"retrain: the job's retrain task creates {version.name}/{retrain_version} and trains on it"
        )
    images = _images(params, watched, summary, signals, judged, limits)
    summary["plots"] = {name.removesuffix(".png"): name for name in images}

    moved, run_id = _publish(
        params, watched, summary, images, window, target, degraded if rollback_due else None
    )
    if moved is not None:
        progress.step(summary["reasons"][-1])
    values = {
        "decision": worst,
        "retrain": "true" if retrain else "false",
        "retrain_data_name": version.name,
        "retrain_data_version": retrain_version,
        **{
            f"retrain_{key}": watched.lineage(key)
            for key in ("label_col", "text_col", "id_col", "model_type")
        },
        "rolled_back": "true" if moved and moved["moved"] else "false",
    }
    for key, value in values.items():
        runtime.set_task_value(key, value)
    progress.step(f"decision {worst}: {summary['reasons'][0]} -> {target}")
    result = MonitorResult(
        decision=worst,
        reasons=summary["reasons"],
        output_path=str(target),
        summary=summary,
        retrain=retrain,
        rollback=moved,
        mlflow_run_id=run_id,
        seconds=round(time.perf_counter() - started, 3),
        task_values=values,
    )
    if worst == ALERT and params.on_alert == "fail":
        raise MonitorAlertError(
            f"monitor: alert on {resolved.model_uri}: {summary['reasons'][0]}"
            f" (report: {target / report.REPORT})",
            data=result.to_dict(),
        )
    return result


def watch(params: MonitorParams) -> Watched:
    """The version to watch, its model and its reference data version; refused without lineage."""
    resolved = resolve(params)
    version = _reference(params, resolved)
    tags = resolved.tags
    model = modelstore.load(resolved.load_uri, allow_unsafe_formats=params.allow_unsafe_model_formats)
    return Watched(
        resolved=resolved,
        version=version,
        model=model,
        inputs=[str(c) for c in getattr(model, "feature_names_in_", version.feature_columns)],
        label_col=params.label_col or tags.get("label_col") or version.label_col,
        id_col=params.id_col or tags.get("id_col") or version.id_col or None,
        regression=tags.get("task") == REGRESSION,
    )


def gather(params: MonitorParams, watched: Watched, since: dt.datetime, until: dt.datetime) -> windows.Window:
    """The window's rows (with labels joined, predictions made where missing); refused when empty."""
    window = _window(params, watched.window_model, since, until)
    if window.rows == 0 and (params.input_path or params.input_table):
        raise DataError(f"{window.sources[0]} holds no rows to monitor; give a window with rows")
    if window.rows == 0:
        searched = ", ".join(window.sources) or str(
            layout.model_outputs_dir(params.output_location, watched.resolved.output_folder)
        )
        raise DataError(
            f"the window {since.isoformat()} to {until.isoformat()} holds no prediction of"
            f" {watched.resolved.model_uri} (searched {searched});"
            " widen since/until, score a batch, or pass input_path"
        )
    if params.labels_path or params.labels_table:
        labels, where = windows.read_labels(params.labels_path, params.labels_table)
        windows.join_labels(window, labels, watched.id_col or "", watched.label_col, where)
    _score_missing(watched, window)
    return window


def judge(
    params: MonitorParams, watched: Watched, window: windows.Window, limits: Thresholds
) -> tuple[list[Signal], Judgement]:
    """Volume, failed requests, features and predictions against the reference."""
    version = watched.version
    train = version.read("train")
    heldout = version.read(version.evaluation_split)
    for split, frame in (("train", train), (version.evaluation_split, heldout)):
        missing = [c for c in watched.inputs if c not in frame.columns]
        if missing:
            raise DataError(
                f"reference {version.name}/{version.version} {split} lacks the model's column(s) {missing}:"
                " give the data version the model was trained on (reference_data_version)"
            )
    text_col = watched.lineage("text_col") or None
    baseline = Reference.build(
        watched.model, watched.inputs, train, heldout, text_col, watched.regression, params.seed
    )
    judged = baseline.judge(window.frame, limits)
    if len(window.with_inputs) == 0:
        window.notes.append("no row of the window has its inputs: only the predictions are judged")
    signals = [_volume(window, limits)]
    if window.requests:
        share = window.failed_requests / window.requests
        signals.append(
            signal(
                "failed_requests",
                "errors",
                "failed_share",
                share,
                limits.errors,
                f"{window.failed_requests} of {window.requests} serving requests failed or were refused"
                f" ({share:.1%})",
            )
        )
    return signals + judged.signals, judged


def _summary(watched: Watched, window: windows.Window, signals: list[Signal]) -> dict[str, Any]:
    """summary.json as the contract has it (plots and run id are filled in later)."""
    r, version = watched.resolved, watched.version
    return {
        "decision": decision(signals),
        "reasons": reasons(signals),
        "window": {"since": window.since.isoformat(), "until": window.until.isoformat(), "rows": window.rows},
        "reference": {"data_name": version.name, "data_version": version.version, "split": "train"},
        "model": {"model_name": r.model_name, "model_version": r.version, "model_uri": r.model_uri},
        "signals": [s.to_dict() for s in signals],
        "drifted_features": drifted_features(signals),
        "plots": {},
        "mlflow_run_id": "",
    }


def _images(
    params: MonitorParams,
    watched: Watched,
    summary: dict[str, Any],
    signals: list[Signal],
    judged: Judgement,
    limits: Thresholds,
) -> dict[str, bytes]:
    """The report's plots: predictions, drifted features, and the measurements over the windows."""
    wanted = {"prediction PSI": ("prediction", "psi")}
    lines = {"prediction PSI": limits.psi}
    metric = _gate(watched.resolved)[0]
    if metric:
        label = f"{metric} drop from the gate score"
        wanted[label], lines[label] = ("performance", f"{metric}_drop"), limits.performance
    folder = str(watched.resolved.output_folder)
    history = report.history(params.output_location, folder, summary, wanted)
    return report.figures(judged.features, judged.predictions, signals, history, lines)


def _publish(
    params: MonitorParams,
    watched: Watched,
    summary: dict[str, Any],
    images: dict[str, bytes],
    window: windows.Window,
    target: Path,
    degraded: str | None,
) -> tuple[dict[str, Any] | None, str]:
    """The MLflow run, the rollback when due, the report folder; all of it or (but the rollback) none.

    A failure after the run started deletes the run and the folder; a rollback that happened stays
    (it is recorded on both versions).
    """
    resolved = watched.resolved
    experiment_id = setup.experiment_id(params.experiment_name)
    run = mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"monitor-{resolved.label}-{target.name[:15]}",
        tags=_tags(resolved, summary["decision"], window, target),
    )
    run_id = run.info.run_id
    moved = None
    published = False
    try:
        if degraded is not None:
            moved = rollback.rollback(
                resolved.model_name, reason=f"monitor run {run_id}: {degraded}", by="bricksml monitor"
            ).to_dict()
            summary["reasons"].append(
                f"rollback: champion moved from v{moved['from_version']} back to v{moved['to_version']}"
                f" ({degraded})"
            )
        summary["mlflow_run_id"] = run_id
        report.write(target, summary, images, report.page(summary, images, window.notes))
        published = True
        _log(resolved, summary, window, target)
    except BaseException:
        if published:
            shutil.rmtree(target, ignore_errors=True)
        mlflow.end_run(status="FAILED")
        registry.client().delete_run(run_id)
        raise
    mlflow.end_run()
    return moved, run_id


def _reference(params: MonitorParams, resolved: ResolvedModel) -> DataVersion:
    """The data version the version was trained on (its lineage tags), or the one given."""
    name = params.reference_data_name or resolved.tags.get("data_name")
    number = params.reference_data_version or resolved.tags.get("data_version")
    if not (name and number):
        raise DataError(
            f"{resolved.model_uri} has no lineage (no data_name/data_version tags) to find its training data:"
            " give reference_data_name and reference_data_version"
        )
    return open_version(params.data_root, name, number)


def _window(
    params: MonitorParams, model: windows.Model, since: dt.datetime, until: dt.datetime
) -> windows.Window:
    if params.input_path or params.input_table:
        return windows.explicit(model, since, until, params.input_path, params.input_table)
    table = None
    if params.serving_endpoint and model.name:
        catalog, schema = (params.request_log_schema or model.name.rpartition(".")[0]).split(".")
        table = request_log.table_name(catalog, schema, endpoint_name(params.serving_endpoint, model.name))
        if runtime.on_databricks() and not _table_exists(table):
            table = None  # no endpoint logs for this model (yet): batch outputs only
    return windows.collect(model, since, until, params.output_location, table)


def _table_exists(name: str) -> bool:
    from pyspark.sql import SparkSession

    return bool(SparkSession.builder.getOrCreate().catalog.tableExists(name))


def _score_missing(watched: Watched, window: windows.Window) -> None:
    """Rows given without predictions (an explicit window of raw rows) are scored by the version."""
    frame = window.frame
    todo = frame[C.PREDICTION].isna() & frame[C.HAS_INPUTS].astype(bool)
    if not todo.any():
        return
    try:
        predicted, confidence = predict(watched.model, frame.loc[todo, watched.inputs], watched.regression)
    except ValueError as exc:
        raise DataError(f"the version cannot score the window's rows: {first_line(exc)}") from None
    frame[C.PREDICTION] = frame[C.PREDICTION].astype(object)
    frame.loc[todo, C.PREDICTION] = predicted
    if confidence is not None:
        frame.loc[todo, C.CONFIDENCE] = confidence
    window.notes.append(f"{int(todo.sum())} rows had no prediction and were scored by the version")


def _volume(window: windows.Window, limits: Thresholds) -> Signal:
    sources = f"{len(window.sources)} source(s)"
    reason = (
        f"{window.rows} rows in the window from {sources} (fewer than {limits.min_rows} are too few to judge)"
    )
    if window.rows >= limits.min_rows:
        reason = f"{window.rows} rows in the window from {sources}"
    return signal(
        "rows", "volume", "rows", float(window.rows), (limits.min_rows, 0), reason, lower_is_worse=True
    )


def _gate(resolved: ResolvedModel) -> tuple[str | None, float | None, str | None]:
    """The gate's metric, the version's score at its gate, and the split it was judged on."""
    try:
        record = json.loads(resolved.tags.get(registry.GATE_RECORD) or "{}")
    except ValueError:
        record = {}
    metric = record.get("metric")
    score = record.get("challenger")
    if not isinstance(metric, str) or not performance.known(metric):
        return None, None, None
    return metric, float(score) if isinstance(score, (int, float)) else None, record.get("split")


def _performance(
    params: MonitorParams, watched: Watched, window: windows.Window, limits: Thresholds, signals: list[Signal]
) -> str | None:
    """The performance signals of a labelled window; the degradation sentence when rollback is due.

    Against the previous champion, both versions are scored on the same labelled rows: scores on
    different rows (the gate's split, another window) would compare the rows as much as the models.
    """
    resolved, regression = watched.resolved, watched.regression
    labelled = window.labelled
    if len(labelled) == 0:
        return None
    metric, gate_score, gate_split = _gate(resolved)
    metric = metric or ("rmse" if regression else "f1_macro")
    current = performance.score(metric, labelled[C.LABEL], labelled[C.PREDICTION])
    unit = performance.drop_unit(metric)
    if gate_score is not None:
        fall = performance.drop(metric, gate_score, current)
        reason = (
            f"{metric} {current:.4f} on {len(labelled)} labelled rows; {gate_score:.4f} at the gate"
            f" ({gate_split}): a drop of {fall:+.4f} ({unit})"
        )
    else:
        fall, reason = (
            None,
            f"{metric} {current:.4f} on {len(labelled)} labelled rows; no gate score on record",
        )
    signals.append(signal(metric, "performance", f"{metric}_drop", fall, limits.performance, reason))

    previous = rollback.previous_champion(resolved.model_name, resolved.version) if resolved.version else None
    rows = labelled[labelled[C.HAS_INPUTS].astype(bool)]
    if previous is None or len(rows) == 0:
        return None
    other = modelstore.load(
        str(VersionRef(resolved.model_name, previous)), allow_unsafe_formats=params.allow_unsafe_model_formats
    )
    theirs = performance.score(metric, rows[C.LABEL], predict(other, rows[watched.inputs], regression)[0])
    ours = performance.score(metric, rows[C.LABEL], rows[C.PREDICTION])
    gap = performance.drop(metric, theirs, ours)
    sentence = (
        f"{metric} {ours:.4f} against {theirs:.4f} for the previous champion v{previous} on the same"
        f" {len(rows)} labelled rows: {gap:+.4f} worse ({unit}; allowed {params.max_drop:g})"
    )
    signals.append(
        signal(
            f"v{previous}",
            "performance",
            f"{metric}_below_previous_champion",
            gap,
            (params.max_drop / 2, params.max_drop),
            sentence,
        )
    )
    return sentence if gap > params.max_drop else None


def _tags(resolved: ResolvedModel, worst: str, window: windows.Window, target: Path) -> dict[str, str]:
    return {
        "bricksml.job": "monitor",
        "model_name": resolved.model_name,
        "model_version": resolved.version,
        "model_uri": resolved.model_uri,
        "model_run_id": resolved.run_id,
        "decision": worst,
        "window_since": window.since.isoformat(),
        "window_until": window.until.isoformat(),
        "output_path": str(target),
        "bundle_target": runtime.bundle_target(),
        "bricksml_version": __version__,
    }


def _log(resolved: ResolvedModel, summary: dict[str, Any], window: windows.Window, target: Path) -> None:
    """Metrics of every measured signal, the decision as tags, the report as artifacts."""
    values = {"rows": float(window.rows), "requests": float(window.requests)}
    for s in summary["signals"]:
        if s["value"] is not None and np.isfinite(s["value"]):
            values[metric_key(f"{s['kind']}.{s['name']}.{s['metric']}")[:250]] = float(s["value"])
    mlflow.log_metrics(values, model_id=resolved.model_id)
    drifted = ",".join(summary["drifted_features"])
    mlflow.set_tags(
        {
            "drifted_features": drifted[:4900],
            "alerts": str(sum(s["status"] == ALERT for s in summary["signals"])),
            "mlflow_run_id": summary["mlflow_run_id"],
        }
    )
    mlflow.log_artifacts(str(target), artifact_path="monitoring")
