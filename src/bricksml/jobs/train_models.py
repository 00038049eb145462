"""The train_models job: train one pipeline on a data version, track it in MLflow, register it.

:func:`train_models` reads as its steps: prepare (the data, the task, the pipeline and every check,
before any MLflow run exists), then inside one MLflow run: search, fit, score every split, report
and register. The second task of the job, the promotion gate, is :mod:`bricksml.jobs.validate_model`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from bricksml import __version__, gitinfo, layout, runtime
from bricksml.data.versions import DataVersion, open_version
from bricksml.errors import BricksmlError, DataError, FeatureParamError, ModelParamError, SearchError
from bricksml.models import evaluate, explain, labels, plots, tasks
from bricksml.models.features import resolve_params, value_problem
from bricksml.models.pipeline import ModelSpec, build_pipeline
from bricksml.models.search import SearchPlan
from bricksml.models.types import MODEL_TYPES, fit_params
from bricksml.params.train import TrainParams
from bricksml.progress import SILENT, Progress
from bricksml.timing import Timer
from bricksml.tracking import modelstore, registry, runs, setup
from bricksml.tracking.model_refs import VersionRef
from bricksml.tracking.search import run_search

TRAIN_TASK = "train"


@dataclass
class TrainResult:
    """What a training run produced, for the CLI's JSON, the notebook and the next task."""

    run_id: str
    experiment_id: str
    model_name: str
    model_version: str
    model_uri: str
    model_type: str
    metrics: dict[str, float]
    seconds: dict[str, float]
    data: str
    task: str = tasks.CLASSIFICATION
    best_trial: dict[str, Any] | None = None
    suspected_leaks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the metrics leave out, and why
    figures: dict[str, bytes] = field(default_factory=dict, repr=False)  # PNG bytes by name

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "experiment_id": self.experiment_id,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "model_uri": self.model_uri,
            "model_type": self.model_type,
            "task": self.task,
            "data": self.data,
            "metrics": self.metrics,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "best_trial": self.best_trial,
            "suspected_leaks": self.suspected_leaks,
            "notes": self.notes,
        }

    def metrics_table(self) -> pd.DataFrame:
        """Metric x split, the table the notebook shows."""
        rows: dict[str, dict[str, float]] = {}
        for key, value in self.metrics.items():
            split, _, name = key.partition("_")
            if split in ("train", "test", "holdout"):
                rows.setdefault(name, {})[split] = value
        return pd.DataFrame(rows).T.reindex(columns=["train", "test", "holdout"]).dropna(axis=1, how="all")


@dataclass
class Prepared:
    """Everything a training run needs, built and checked before the run starts."""

    version: DataVersion
    frames: dict[str, pd.DataFrame]
    task: str
    spec: ModelSpec
    pipeline: Pipeline
    trusted: list[str]
    plan: SearchPlan | None
    lineage: dict[str, str]
    leaks: list[dict[str, Any]]

    @property
    def train(self) -> pd.DataFrame:
        return self.frames["train"]

    def x(self, split: str) -> pd.DataFrame:
        return self.frames[split][self.version.feature_columns]

    def y(self, split: str) -> pd.Series:
        return target(self.frames[split][self.version.label_col], self.task)


@dataclass
class Scored:
    """The pipeline's answers on every split: class probabilities, or predicted numbers."""

    truth: dict[str, pd.Series]
    outputs: dict[str, np.ndarray]
    classes: list[str]
    metrics: dict[str, float]
    notes: list[str]


def train_models(params: TrainParams, progress: Progress = SILENT) -> TrainResult:
    """Train, evaluate, log and register one model version; the gate runs as the next task."""
    timer = Timer()
    prepared = prepare(params, progress)
    with timer("mlflow"):
        experiment_id = open_experiment(params, prepared.lineage, progress)
    with training_run(experiment_id, params, prepared, timer) as run_id:
        progress.step(f"MLflow run {run_id} in {params.experiment}")
        prepared, best_trial = search(params, prepared, progress, timer)
        with timer("mlflow"):
            mlflow.log_params(_flat_params(prepared.spec, params))
        fit(prepared, progress, timer)
        scored = score(prepared, timer)
        progress.step(_headline(prepared.task, scored.metrics))
        for note in scored.notes:
            progress.step(note)
        logged, figures = report_and_register(params, prepared, scored, progress, timer)
    timer.stop()
    runtime.set_task_value("model_version", logged.version)
    runtime.set_task_value("run_id", run_id)
    return TrainResult(
        run_id=run_id,
        experiment_id=experiment_id,
        model_name=params.registered_model_name,
        model_version=logged.version,
        model_uri=str(VersionRef(params.registered_model_name, logged.version)),
        model_type=prepared.spec.model_type,
        metrics=scored.metrics,
        seconds=timer.seconds,
        data=f"{prepared.version.name}/{prepared.version.version}",
        task=prepared.task,
        best_trial=best_trial,
        suspected_leaks=prepared.leaks,
        notes=scored.notes,
        figures=figures,
    )


# -- before the run: every check ------------------------------------------------------------------


def prepare(params: TrainParams, progress: Progress = SILENT) -> Prepared:
    """The data version, its task, the unfitted pipeline; every refusal happens here, before MLflow."""
    version, frames = load_splits(params)
    data = f"{version.name}/{version.version}"
    task = params.task_for(tasks.of_manifest(version.manifest), data)
    model_type = params.model_type_for(task)
    params.gate_metric_for(task)  # the validate task compares on it: a wrong one fails now
    check_labels(version, frames, task)
    spec = ModelSpec(model_type, params.model_params, params.feature_params, params.seed, task)
    pipeline = make_pipeline(params, spec, version, frames["train"])
    used = used_columns(pipeline)
    for split, frame in frames.items():  # what no feature can be made of, before any run exists
        problem = value_problem(frame, used, version.text_col)
        if problem:
            raise DataError(f"{data} {split}: {problem}")
    plan = None
    if params.search:
        try:
            plan = SearchPlan.parse(params.search, model_type, task)
        except SearchError as exc:
            params.fail("search", f"a valid search for this {task} data version ({exc})", params.search)
    lineage = _lineage(params, version, model_type, task)
    registry.check_tags(lineage)  # what Unity Catalog would refuse at registration, refused before the run
    leaks = suspected_leaks(version, used)
    for leak in leaks:
        progress.step(leak["message"])
    return Prepared(
        version=version,
        frames=frames,
        task=task,
        spec=spec,
        pipeline=pipeline,
        trusted=modelstore.trusted_types(pipeline, model_type, task),  # from the unfitted pipeline
        plan=plan,
        lineage=lineage,
        leaks=leaks,
    )


def load_splits(params: TrainParams) -> tuple[DataVersion, dict[str, pd.DataFrame]]:
    version = open_version(params.data_root, params.data_name, params.data_version)
    frames = {split: version.read(split) for split in version.splits}
    needed = [version.label_col, *version.feature_columns]
    for split, frame in frames.items():
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise DataError(f"split {split!r} of {version.name}/{version.version} lacks columns {missing}")
    return version, frames


def target(values: pd.Series, task: str) -> pd.Series:
    """The label as the estimator takes it: classes as text, a regression label as numbers."""
    if task == tasks.REGRESSION:
        return pd.Series(labels.as_numbers(values)[0], index=values.index, name=values.name)
    return values.astype(str)


def check_labels(version: DataVersion, frames: dict[str, pd.DataFrame], task: str) -> None:
    """Labels the task can learn from: two classes at least, or finite numbers that vary."""
    data = f"{version.name}/{version.version}"
    if task == tasks.REGRESSION:
        for split, frame in frames.items():
            problem = labels.regression_problem(frame[version.label_col], version.label_col)
            if problem:
                raise DataError(f"{data} {split} (a regression data version): {problem}")
        if target(frames["train"][version.label_col], task).nunique() < 2:
            raise DataError(f"the train split of {data} has one label value only: nothing to learn")
    elif frames["train"][version.label_col].astype(str).nunique() < 2:
        raise DataError(f"the train split of {data} has one class only")


def make_pipeline(
    params: TrainParams, spec: ModelSpec, version: DataVersion, train: pd.DataFrame
) -> Pipeline:
    """The unfitted pipeline; a bad parameter fails here, before any MLflow run exists."""
    try:
        return build_pipeline(spec, train, version.feature_columns, version.text_col)
    except FeatureParamError as exc:
        params.fail("feature_params", f"usable with this data ({exc})", spec.feature_params)
    except ModelParamError as exc:
        params.fail(
            "model_params",
            f"valid for model_type {spec.model_type!r} ({spec.task}) ({exc})",
            spec.model_params,
        )
    raise AssertionError("unreachable")


def open_experiment(params: TrainParams, lineage: dict[str, str], progress: Progress) -> str:
    """The run's experiment, once the registered model may take this version; stale runs closed."""
    setup.configure()
    registry.check_trained_on(params.registered_model_name, lineage, params.allow_other_data)
    check_same_task(params.registered_model_name, lineage[tasks.TAG], params.allow_other_data)
    experiment_id = setup.experiment_id(params.experiment)
    for run_id in runs.close_abandoned(experiment_id, "train_models"):
        progress.step(f"closed run {run_id} as FAILED: the process that ran it is gone")
    return experiment_id


def check_same_task(name: str, task: str, allow_other: bool) -> None:
    """A model's versions serve one task: a regressor never follows a classifier as champion."""
    latest = None if allow_other else registry.latest_version(name)
    if latest is not None and tasks.of_tags(latest.tags) != task:
        raise BricksmlError(
            f"model {name} holds {tasks.of_tags(latest.tags)} versions (v{latest.version}), this run "
            f"trains {task}: leave model_name empty for a model of this data set's own or set "
            "allow_other_data=true"
        )


@contextlib.contextmanager
def training_run(experiment_id: str, params: TrainParams, prepared: Prepared, timer: Timer) -> Iterator[str]:
    """The MLflow run of the training, as a block: FINISHED when it ends, FAILED when it raises."""
    with timer("mlflow"):
        run = mlflow.start_run(
            experiment_id=experiment_id,
            run_name=f"{prepared.spec.model_type}-{params.data_name}-{params.data_version}",
            tags=_tags(prepared.lineage, prepared.leaks),
        )
    try:
        yield run.info.run_id
    except BaseException:
        with timer("mlflow"):
            mlflow.end_run(status="FAILED")
        raise
    with timer("mlflow"):
        mlflow.end_run()


# -- inside the run ---------------------------------------------------------------------------------


def search(
    params: TrainParams, prepared: Prepared, progress: Progress, timer: Timer
) -> tuple[Prepared, dict[str, Any] | None]:
    """With a search: its trials as nested runs, and the best one's pipeline in place of the first."""
    plan = prepared.plan
    if plan is None:
        return prepared, None
    progress.step(f"searching: {plan.method}, metric {plan.metric}, {plan.folds} folds")
    try:
        best = run_search(
            plan,
            prepared.spec,
            prepared.x("train"),
            prepared.y("train"),
            prepared.version.text_col,
            progress,
            timer,
        )
    except SearchError as exc:
        params.fail("search", f"a search whose trials are valid ({exc})", params.search)
    spec = prepared.spec.with_trial(best.model_params, best.feature_params)
    pipeline = make_pipeline(params, spec, prepared.version, prepared.train)
    trusted = modelstore.trusted_types(pipeline, spec.model_type, spec.task)
    best_trial = {
        "number": best.number,
        "model_params": best.model_params,
        "feature_params": best.feature_params,
    }
    return dataclasses.replace(prepared, spec=spec, pipeline=pipeline, trusted=trusted), best_trial


def fit(prepared: Prepared, progress: Progress, timer: Timer) -> None:
    spec, y = prepared.spec, prepared.y("train")
    progress.step(f"fitting {spec.model_type} ({prepared.task}) on {len(y)} rows")
    with timer("fit"):
        prepared.pipeline.fit(prepared.x("train"), y, **fit_params(spec.model_type, y, spec.task))


def score(prepared: Prepared, timer: Timer) -> Scored:
    """Every split scored by the fitted pipeline, with its metrics as ``<split>_<metric>``."""
    pipeline, task = prepared.pipeline, prepared.task
    classes = [str(c) for c in pipeline.classes_] if task == tasks.CLASSIFICATION else []
    truth, outputs, metrics, notes = {}, {}, {}, []
    for split in prepared.frames:
        with timer("predict"):
            x = prepared.x(split)
            outputs[split] = pipeline.predict_proba(x) if classes else pipeline.predict(x)
        truth[split] = prepared.y(split)
        if classes:
            found = evaluate.classification_metrics(truth[split], outputs[split], classes)
        else:
            found = evaluate.regression_metrics(truth[split], outputs[split])
            notes += evaluate.regression_notes(truth[split], split)
        metrics.update({f"{split}_{key}": value for key, value in found.items()})
    metrics["fit_seconds"] = timer.seconds["fit"]
    metrics["predict_seconds"] = timer.seconds["predict"]
    return Scored(truth, outputs, classes, metrics, notes)


def _headline(task: str, metrics: dict[str, float]) -> str:
    nan = float("nan")
    if task == tasks.REGRESSION:
        return "test RMSE {:.4g}, R2 {:.4f}".format(
            metrics.get("test_rmse", nan), metrics.get("test_r2", nan)
        )
    return "test macro-F1 {:.4f}".format(metrics.get("test_f1_macro", nan))


def report_and_register(
    params: TrainParams, prepared: Prepared, scored: Scored, progress: Progress, timer: Timer
) -> tuple[modelstore.LoggedVersion, dict[str, bytes]]:
    """Plots, reports and lineage as artifacts; the model logged and registered; then the metrics."""
    with tempfile.TemporaryDirectory(prefix="bricksml-artifacts-") as tmp:
        with timer("report"):
            figures = write_artifacts(Path(tmp), prepared, scored)
        with timer("mlflow"):
            mlflow.log_artifacts(tmp)
            _log_inputs(prepared.version, prepared.frames)
            progress.step(f"logging and registering {params.registered_model_name}")
            logged = modelstore.log_and_register(
                prepared.pipeline,
                prepared.x("train"),
                params.registered_model_name,
                prepared.trusted,
                version_tags=prepared.lineage,
            )
            # After the model, linked to it: logged before, MLflow would re-read the history of
            # every metric to link them (a query per metric). The job's seconds go in the same
            # call: everything up to this last write.
            job_seconds = timer.stop()["total"]
            mlflow.log_metrics({**scored.metrics, "job_seconds": job_seconds}, model_id=logged.model_id)
    return logged, figures


# -- what the run records ---------------------------------------------------------------------------


def used_columns(pipeline: Pipeline) -> list[str]:
    """The raw columns the pipeline's features read (after ``drop_columns``)."""
    return [c for _, _, columns in pipeline.named_steps["features"].transformers for c in columns]


def suspected_leaks(version: DataVersion, used: list[str]) -> list[dict[str, Any]]:
    """The data quality report's suspected leaks among the columns the pipeline really reads.

    A column dropped with ``feature_params.drop_columns`` no longer counts.
    """
    found = version.manifest.get("quality", {}).get("suspected_leaks") or []
    out = []
    for leak in found:
        column = leak.get("column")
        if column not in used:
            continue
        if leak.get("kind") == "id_like":
            why = "an id-like column"
        elif leak.get("with"):
            why = f"together with {leak['with']!r} it predicts the label"
        else:
            why = "alone predicts the label"
        score = f" (macro-F1 {leak['score']:.3f} on train)" if isinstance(leak.get("score"), float) else ""
        out.append(
            {
                **leak,
                "message": f"column {column!r} is a suspected leak: {why}{score}; to train without it "
                f'pass feature_params {{"drop_columns": ["{column}"]}}',
            }
        )
    return out


def _tags(lineage: dict[str, str], leaks: list[dict[str, Any]]) -> dict[str, str]:
    """The run's tags: the version's lineage that describes the run, who wrote it, leak warnings."""
    tags = {
        "bricksml.job": "train_models",
        **{key: lineage[key] for key in ("data_name", "data_version", "data_digest", "bundle_target")},
        "bricksml_version": __version__,
        "model_type": lineage["model_type"],
        tasks.TAG: lineage[tasks.TAG],
        **runs.owner_tags(),
    }
    if lineage["git_commit"]:
        tags["git_commit"] = tags["mlflow.source.git.commit"] = lineage["git_commit"]
    if leaks:
        tags["suspected_leaks"] = ",".join(leak["column"] for leak in leaks)
    return tags


def _lineage(params: TrainParams, version: DataVersion, model_type: str, task: str) -> dict[str, str]:
    return {
        "data_name": version.name,
        "data_version": version.version,
        "data_digest": version.manifest.get("content_digest", ""),
        "data_path": str(version.path),
        "label_col": version.label_col,
        "text_col": version.text_col or "",
        "id_col": version.id_col or "",
        "model_type": model_type,
        tasks.TAG: task,
        # A job passes both as parameters: an installed wheel has no working copy to ask.
        "bundle_target": params.bundle_target or runtime.bundle_target(),
        "git_commit": params.git_commit or gitinfo.code_commit(),
    }


def _flat_params(spec: ModelSpec, params: TrainParams) -> dict[str, Any]:
    """model.* and features.* parameters as they were used (defaults included), plus the seed."""
    out: dict[str, Any] = {"model_type": spec.model_type, tasks.TAG: spec.task, "seed": params.seed}
    defaults = MODEL_TYPES[spec.model_type].variant(spec.task).defaults
    for key, value in {**defaults, **spec.model_params}.items():
        out[f"model.{key}"] = json.dumps(value) if isinstance(value, (list, dict)) else value
    for key, value in resolve_params(spec.feature_params).items():
        out[f"features.{key}"] = json.dumps(value) if isinstance(value, (list, dict)) else value
    if params.search:
        out["search"] = json.dumps(params.search, sort_keys=True)
    return out


def _log_inputs(version: DataVersion, frames: dict[str, pd.DataFrame]) -> None:
    """Lineage: each split as an MLflow dataset input with its file's digest and location."""
    contexts = {"train": "training", "test": "testing", "holdout": "holdout"}
    with warnings.catch_warnings():
        # MLflow registers the local-file source twice and warns that it picked one of them; when
        # it infers each dataset's schema (in log_inputs) it hints about integer columns, which the
        # model signature already handles.
        warnings.simplefilter("ignore", UserWarning)
        datasets = [
            mlflow.data.from_pandas(
                frame.head(0),  # the schema and the digest travel; the rows stay in the volume
                source=str(version.split_file(split)),
                targets=version.label_col,
                name=f"{version.name}/{version.version}/{split}",
                digest=version.split_digest(split)[:32],
            )
            for split, frame in frames.items()
        ]
        mlflow.log_inputs(  # one call for all splits
            datasets, contexts=[contexts.get(s, s) for s in frames], tags_list=[None] * len(datasets)
        )


def write_artifacts(root: Path, prepared: Prepared, scored: Scored) -> dict[str, bytes]:
    """Plots, reports, the explanation and the data manifest, laid out as they appear in MLflow."""
    for folder in ("plots", "reports", "data"):
        (root / folder).mkdir()
    if prepared.task == tasks.REGRESSION:
        drawn = _regression_artifacts(root, prepared.version.label_col, scored)
    else:
        drawn = _classification_artifacts(root, scored)
    figures = {}
    for name, fig in drawn:
        path = root / "plots" / f"{name}.png"
        fig.savefig(path)
        plots.close(fig)
        figures[name] = path.read_bytes()
    explanation = explain.explain(prepared.pipeline, MODEL_TYPES[prepared.spec.model_type].explain)
    if explanation is not None:
        (root / "reports" / "model_explanation.json").write_text(json.dumps(explanation, indent=2))
    layout.manifest_file(root / "data").write_text(json.dumps(prepared.version.manifest, indent=2))
    return figures


def _classification_artifacts(root: Path, scored: Scored) -> Iterator[tuple[str, Any]]:
    """Per split its report (JSON); for test and holdout a confusion matrix, ROC and PR curves."""
    classes = scored.classes
    for split, proba in scored.outputs.items():
        y_true = scored.truth[split]
        (root / "reports" / f"classification_report_{split}.json").write_text(
            json.dumps(evaluate.report(y_true, proba, classes), indent=2)
        )
        if split == "train":
            continue
        y_pred = evaluate.predictions(proba, classes)
        yield (
            f"confusion_matrix_{split}",
            plots.confusion_matrix_figure(y_true, y_pred, classes, f"Confusion matrix ({split})"),
        )
        one_vs_rest = "" if len(classes) == 2 else " one-vs-rest"
        yield (
            f"roc_{split}",
            plots.curves_figure(y_true, proba, classes, "roc", f"ROC{one_vs_rest} ({split})"),
        )
        yield (
            f"precision_recall_{split}",
            plots.curves_figure(y_true, proba, classes, "pr", f"Precision-recall ({split})"),
        )


def _regression_artifacts(root: Path, label: str, scored: Scored) -> Iterator[tuple[str, Any]]:
    """Per split its report (JSON); for test and holdout predicted-vs-actual and residual plots."""
    for split, predicted in scored.outputs.items():
        y_true = scored.truth[split]
        report = {
            **evaluate.regression_report(y_true, predicted),
            "notes": evaluate.regression_notes(y_true, split),
        }
        (root / "reports" / f"regression_report_{split}.json").write_text(json.dumps(report, indent=2))
        if split == "train":
            continue
        yield (
            f"predicted_vs_actual_{split}",
            plots.predicted_vs_actual_figure(y_true, predicted, label, f"Predicted vs actual ({split})"),
        )
        yield f"residuals_{split}", plots.residuals_figure(y_true, predicted, label, f"Residuals ({split})")
