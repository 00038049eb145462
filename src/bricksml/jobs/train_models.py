"""The train_models job: train one pipeline on a data version, track it in MLflow, register it.

The second task of the job, the promotion gate, is :mod:`bricksml.jobs.validate_model`.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from bricksml import __version__, gitinfo, layout, runtime
from bricksml.data.versions import DataVersion, open_version
from bricksml.errors import DataError, FeatureParamError, ModelParamError
from bricksml.models import evaluate, explain, plots
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
    best_trial: dict[str, Any] | None = None
    suspected_leaks: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, bytes] = field(default_factory=dict, repr=False)  # PNG bytes by name

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "experiment_id": self.experiment_id,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "model_uri": self.model_uri,
            "model_type": self.model_type,
            "data": self.data,
            "metrics": self.metrics,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "best_trial": self.best_trial,
            "suspected_leaks": self.suspected_leaks,
        }

    def metrics_table(self) -> pd.DataFrame:
        """Metric x split, the table the notebook shows."""
        rows: dict[str, dict[str, float]] = {}
        for key, value in self.metrics.items():
            split, _, name = key.partition("_")
            if split in ("train", "test", "holdout"):
                rows.setdefault(name, {})[split] = value
        return pd.DataFrame(rows).T.reindex(columns=["train", "test", "holdout"]).dropna(axis=1, how="all")


def load_splits(params: TrainParams) -> tuple[DataVersion, dict[str, pd.DataFrame]]:
    version = open_version(params.data_root, params.data_name, params.data_version)
    frames = {split: version.read(split) for split in version.splits}
    needed = [version.label_col, *version.feature_columns]
    for split, frame in frames.items():
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise DataError(f"split {split!r} of {version.name}/{version.version} lacks columns {missing}")
    return version, frames


def make_pipeline(
    params: TrainParams, spec: ModelSpec, version: DataVersion, train: pd.DataFrame
) -> Pipeline:
    """The unfitted pipeline; a bad parameter fails here, before any MLflow run exists."""
    try:
        return build_pipeline(spec, train, version.feature_columns, version.text_col)
    except FeatureParamError as exc:
        params.fail("feature_params", f"usable with this data ({exc})", spec.feature_params)
    except ModelParamError as exc:
        params.fail("model_params", f"valid for model_type {spec.model_type!r} ({exc})", spec.model_params)
    raise AssertionError("unreachable")


def train_models(params: TrainParams, progress: Progress = SILENT) -> TrainResult:
    """Train, evaluate, log and register one model version; the gate runs as the next task."""
    timer = Timer()
    version, frames = load_splits(params)
    train = frames["train"]
    x_train, y_train = train[version.feature_columns], train[version.label_col].astype(str)
    if y_train.nunique() < 2:
        raise DataError(f"the train split of {version.name}/{version.version} has one class only")
    spec = ModelSpec(params.model_type, params.model_params, params.feature_params, params.seed)
    pipeline = make_pipeline(params, spec, version, train)
    used = used_columns(pipeline)
    for split, frame in frames.items():  # what no feature can be made of, before any run exists
        problem = value_problem(frame, used, version.text_col)
        if problem:
            raise DataError(f"{version.name}/{version.version} {split}: {problem}")
    trusted = modelstore.trusted_types(pipeline, params.model_type)  # from the unfitted pipeline
    plan = SearchPlan.parse(params.search, params.model_type) if params.search else None
    lineage = _lineage(params, version)
    registry.check_tags(lineage)  # what Unity Catalog would refuse at registration, refused before the run
    leaks = suspected_leaks(version, used)
    for leak in leaks:
        progress.step(leak["message"])

    with timer("mlflow"):
        setup.configure()
        registry.check_trained_on(params.registered_model_name, lineage, params.allow_other_data)
        experiment_id = setup.experiment_id(params.experiment)
        for run_id in runs.close_abandoned(experiment_id, "train_models"):
            progress.step(f"closed run {run_id} as FAILED: the process that ran it is gone")
        mlflow.start_run(experiment_id=experiment_id, run_name=_run_name(params), tags=_tags(lineage, leaks))
    progress.step(f"MLflow run {mlflow.active_run().info.run_id} in {params.experiment}")
    try:
        best_trial = None
        if plan is not None:
            progress.step(f"searching: {plan.method}, metric {plan.metric}, {plan.folds} folds")
            best = run_search(plan, params, version, train, progress, timer)
            spec = ModelSpec(
                params.model_type,
                {**params.model_params, **best.model_params},
                {**params.feature_params, **best.feature_params},
                params.seed,
            )
            pipeline = make_pipeline(params, spec, version, train)
            trusted = modelstore.trusted_types(pipeline, params.model_type)
            best_trial = {
                "number": best.number,
                "model_params": best.model_params,
                "feature_params": best.feature_params,
            }

        with timer("mlflow"):
            mlflow.log_params(_flat_params(spec, params))
        progress.step(f"fitting {params.model_type} on {len(train)} rows")
        with timer("fit"):
            pipeline.fit(x_train, y_train, **fit_params(params.model_type, y_train))
        classes = [str(c) for c in pipeline.classes_]

        metrics: dict[str, float] = {}
        scored: dict[str, tuple[pd.Series, np.ndarray]] = {}
        for split, frame in frames.items():
            with timer("predict"):
                proba = pipeline.predict_proba(frame[version.feature_columns])
            y_true = frame[version.label_col].astype(str)
            scored[split] = (y_true, proba)
            for key, value in evaluate.classification_metrics(y_true, proba, classes).items():
                metrics[f"{split}_{key}"] = value
        metrics["fit_seconds"] = timer.seconds["fit"]
        metrics["predict_seconds"] = timer.seconds["predict"]
        progress.step("test macro-F1 {:.4f}".format(metrics.get("test_f1_macro", float("nan"))))

        with tempfile.TemporaryDirectory(prefix="bricksml-artifacts-") as tmp:
            with timer("report"):
                figures = _write_artifacts(Path(tmp), pipeline, params, version, scored, classes)
            with timer("mlflow"):
                mlflow.log_artifacts(tmp)
                _log_inputs(version, frames)
                progress.step(f"logging and registering {params.registered_model_name}")
                logged = modelstore.log_and_register(
                    pipeline,
                    x_train,
                    params.registered_model_name,
                    trusted,
                    version_tags=lineage,
                )
                # After the model, linked to it: logged before, MLflow would re-read the history
                # of every metric to link them (a query per metric). The job's seconds go in the
                # same call: everything up to this last write.
                job_seconds = timer.stop()["total"]
                mlflow.log_metrics({**metrics, "job_seconds": job_seconds}, model_id=logged.model_id)
        run_id = mlflow.active_run().info.run_id
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    with timer("mlflow"):
        mlflow.end_run()
    timer.stop()
    runtime.set_task_value("model_version", logged.version)
    runtime.set_task_value("run_id", run_id)
    return TrainResult(
        run_id=run_id,
        experiment_id=experiment_id,
        model_name=params.registered_model_name,
        model_version=logged.version,
        model_uri=str(VersionRef(params.registered_model_name, logged.version)),
        model_type=params.model_type,
        metrics=metrics,
        seconds=timer.seconds,
        data=f"{version.name}/{version.version}",
        best_trial=best_trial,
        suspected_leaks=leaks,
        figures=figures,
    )


def _run_name(params: TrainParams) -> str:
    return f"{params.model_type}-{params.data_name}-{params.data_version}"


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
        **runs.owner_tags(),
    }
    if lineage["git_commit"]:
        tags["git_commit"] = tags["mlflow.source.git.commit"] = lineage["git_commit"]
    if leaks:
        tags["suspected_leaks"] = ",".join(leak["column"] for leak in leaks)
    return tags


def _lineage(params: TrainParams, version: DataVersion) -> dict[str, str]:
    return {
        "data_name": version.name,
        "data_version": version.version,
        "data_digest": version.manifest.get("content_digest", ""),
        "data_path": str(version.path),
        "label_col": version.label_col,
        "text_col": version.text_col or "",
        "id_col": version.id_col or "",
        "model_type": params.model_type,
        # A job passes both as parameters: an installed wheel has no working copy to ask.
        "bundle_target": params.bundle_target or runtime.bundle_target(),
        "git_commit": params.git_commit or gitinfo.code_commit(),
    }


def _flat_params(spec: ModelSpec, params: TrainParams) -> dict[str, Any]:
    """model.* and features.* parameters as they were used (defaults included), plus the seed."""
    out: dict[str, Any] = {"model_type": spec.model_type, "seed": params.seed}
    for key, value in {**MODEL_TYPES[spec.model_type].defaults, **spec.model_params}.items():
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


def _write_artifacts(
    root: Path,
    pipeline: Pipeline,
    params: TrainParams,
    version: DataVersion,
    scored: dict[str, tuple[pd.Series, np.ndarray]],
    classes: list[str],
) -> dict[str, bytes]:
    """Plots, reports, the explanation and the data manifest, laid out as they appear in MLflow."""
    figures = {}
    (root / "plots").mkdir()
    (root / "reports").mkdir()
    (root / "data").mkdir()
    for split, (y_true, proba) in scored.items():
        (root / "reports" / f"classification_report_{split}.json").write_text(
            json.dumps(evaluate.report(y_true, proba, classes), indent=2)
        )
        if split == "train":
            continue
        y_pred = evaluate.predictions(proba, classes)
        for name, fig in (
            (
                f"confusion_matrix_{split}",
                plots.confusion_matrix_figure(y_true, y_pred, classes, f"Confusion matrix ({split})"),
            ),
            (
                f"roc_{split}",
                plots.curves_figure(
                    y_true,
                    proba,
                    classes,
                    "roc",
                    f"ROC{'' if len(classes) == 2 else ' one-vs-rest'} ({split})",
                ),
            ),
            (
                f"precision_recall_{split}",
                plots.curves_figure(y_true, proba, classes, "pr", f"Precision-recall ({split})"),
            ),
        ):
            path = root / "plots" / f"{name}.png"
            fig.savefig(path)
            plots.close(fig)
            figures[name] = path.read_bytes()
    explanation = explain.explain(pipeline, MODEL_TYPES[params.model_type].explain)
    if explanation is not None:
        (root / "reports" / "model_explanation.json").write_text(json.dumps(explanation, indent=2))
    layout.manifest_file(root / "data").write_text(json.dumps(version.manifest, indent=2))
    return figures
