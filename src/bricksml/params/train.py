"""Parameters of the train_models job (both of its tasks: train and validate).

The model, feature and search checks need scikit-learn; they load when there is something to check,
so that a command line is parsed (and a mistake refused) without it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar

from bricksml.errors import FeatureParamError, ModelParamError, SearchError
from bricksml.models import tasks
from bricksml.models.types import MODEL_TYPES
from bricksml.params.base import Contract, name_check, param
from bricksml.params.create_data import DEFAULT_DATA_ROOT

#: Each data set gets its own experiment, so the MLflow UI never mixes their runs.
DEFAULT_EXPERIMENT = "/Shared/bricksml/{data_name}"
DEFAULT_MODEL_SCHEMA = "main.bricksml"
GATE_MODES = ("disabled", "dry_run", "enabled")
GATE_TIES = ("keep_champion", "promote")
_UC_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def model_name_check(value: str) -> str | None:
    """Unity Catalog model names: catalog.schema.model, each part a plain identifier."""
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 3 or not all(_UC_PART.match(p) for p in parts):
        return "a three-level Unity Catalog name catalog.schema.model (letters, digits, '_', '-')"
    return None


def schema_check(value: str) -> str | None:
    """A Unity Catalog schema as catalog.schema, the home of models named after their data set."""
    parts = value.split(".")
    if len(parts) != 2 or not all(_UC_PART.match(p) for p in parts):
        return "a two-level Unity Catalog name catalog.schema (letters, digits, '_', '-')"
    return None


def default_model_name(model_schema: str, data_name: str) -> str:
    """The registered model of a data set when none is named: one model per data set."""
    return f"{model_schema}.{data_name.replace('.', '_')}"


def gate_metric_for_task(task: str) -> str:
    """What gate_metric must be for ``task``, as a refusal says it."""
    return f"a {task} metric ({', '.join(tasks.GATE_METRICS[task])}) or empty"


def experiment_check(value: str) -> str | None:
    unknown = set(re.findall(r"{([^}]*)}", value)) - {"data_name"}
    return (
        f"a path whose only placeholder is {{data_name}} (not {{{sorted(unknown)[0]}}})" if unknown else None
    )


def share_check(value: float) -> str | None:
    return None if 0.0 <= value <= 1.0 else "a number between 0 and 1"


def confidence_check(value: float) -> str | None:
    return None if 0.5 <= value < 1.0 else "a confidence level from 0.5 up to (not including) 1, e.g. 0.95"


#: Every metric the gate can compare on, for either task.
GATE_METRICS = tuple(m for metrics in tasks.GATE_METRICS.values() for m in metrics)


def gate_metric_check(value: str) -> str | None:
    if not value or value in GATE_METRICS:
        return None
    listed = "; ".join(f"{', '.join(m)} ({task})" for task, m in tasks.GATE_METRICS.items())
    return f"one of {listed}, or empty for the task's default"


@dataclasses.dataclass(frozen=True)
class TrainParams(Contract):
    """What train_models needs: the data version, the model, tracking and the promotion gate."""

    job: ClassVar[str] = "train_models"

    data_name: str = param(help="Data set to train on (a folder under data_root).", check=name_check)
    data_version: str = param(
        help="Data version (split) to train on, as created by create_data.", check=name_check
    )
    data_root: str = param(DEFAULT_DATA_ROOT, help="Root of all data sets (a Unity Catalog volume path).")
    model_name: str = param(
        "",
        help="Registered model, catalog.schema.model. Empty: <model_schema>.<data_name>.",
        check=model_name_check,
    )
    model_schema: str = param(
        DEFAULT_MODEL_SCHEMA,
        help="Catalog and schema of the registered model when model_name is empty.",
        check=schema_check,
    )
    allow_other_data: bool = param(
        False,
        kind="bool",
        help="Register into a model whose versions were trained on another data set or label.",
    )
    task: str = param(
        tasks.AUTO,
        choices=tasks.CHOICES,
        help="classification or regression: the task of the data version, which it must match; "
        "auto: the data version's.",
    )
    model_type: str = param(
        "",
        choices=tuple(MODEL_TYPES),
        help="The model to train. Empty: logistic_regression for classification, ridge for regression.",
    )
    model_params: dict = param({}, kind="json", help='Estimator parameters as JSON, e.g. {"C": 2.0}.')
    feature_params: dict = param(
        {},
        kind="json",
        help='Feature parameters as JSON, e.g. {"ngram_range": [1, 2], "max_features": 20000}.',
    )
    search: dict = param(
        {},
        kind="json",
        help='Hyperparameter search as JSON, e.g. {"model_params": {"C": [0.5, 2, 8]}, "folds": 3}. '
        "Empty: no search.",
    )
    experiment_name: str = param(
        DEFAULT_EXPERIMENT,
        help="MLflow experiment (a /Shared/... or /Users/... path); {data_name} is replaced.",
        check=experiment_check,
    )
    git_commit: str = param(
        "",
        help="Commit of the code, for the lineage (a bundle job passes ${bundle.git.commit}). "
        "Empty: the working copy's.",
    )
    bundle_target: str = param(
        "",
        help="Bundle target the run belongs to (a bundle job passes ${bundle.target}). Empty: local.",
    )
    seed: int = param(
        42,
        kind="int",
        help="Random seed of the estimator, the search and the features.",
        check=lambda v: None if 0 <= v < 2**32 else "a whole number from 0 to 4294967295",
    )
    gate_mode: str = param(
        "enabled",
        choices=GATE_MODES,
        help="Promotion gate: enabled moves the aliases, dry_run only records, disabled skips it.",
    )
    gate_metric: str = param(
        "",
        help="Metric the gate compares on: f1_macro, f1_weighted, accuracy (classification); rmse, mae, "
        "median_ae, mape, r2 (regression). Empty: f1_macro for classification, rmse for regression.",
        check=gate_metric_check,
    )
    gate_min: float | None = param(
        None,
        kind="float",
        help="Smallest gate_metric a model needs, for a metric where higher is better (F1, accuracy, "
        "r2). Empty: gate_min_f1 for the F1 metrics, no minimum otherwise.",
    )
    gate_max: float | None = param(
        None,
        kind="float",
        help="Largest gate_metric a model may have, for an error (rmse, mae, median_ae, mape: lower "
        "is better). Empty: no maximum.",
    )
    gate_min_f1: float = param(
        0.5,
        kind="float",
        help="Smallest macro-F1 a model needs to be promoted (gate_min, for the F1 metrics).",
        check=share_check,
    )
    gate_max_drop: float = param(
        0.0,
        kind="float",
        help="Largest worsening of gate_metric allowed against the champion (0: it must be better); "
        "for an error metric a share of the champion's error.",
        check=share_check,
    )
    gate_baseline_margin: float = param(
        0.05,
        kind="float",
        help="Lead over the best trivial baseline (classes: most frequent, stratified guess; numbers: "
        "mean, median) a model needs; for an error metric a share of the baseline's error.",
        check=share_check,
    )
    gate_confidence: float = param(
        0.95,
        kind="float",
        help="Confidence of the interval of the difference to the champion (paired bootstrap).",
        check=confidence_check,
    )
    gate_tie: str = param(
        "keep_champion",
        choices=GATE_TIES,
        help="A challenger the interval cannot tell from the champion: keep_champion, or promote.",
    )

    def __post_init__(self) -> None:
        known = None if self.task == tasks.AUTO else self.task
        if known and self.model_type and known not in MODEL_TYPES[self.model_type].tasks:
            self.fail("model_type", self._type_for(known), self.model_type)
        self._check_gate(known)
        # Empty model and feature parameters mean the defaults, which are valid for every model
        # type and seed (tests/test_startup.py checks it): nothing to check, no scikit-learn to load.
        if self.model_params:
            self._check_model_params(known)
        if self.feature_params:
            from bricksml.models.pipeline import check_feature_params

            try:
                check_feature_params(self.feature_params)
            except FeatureParamError as exc:
                self.fail("feature_params", f"valid feature parameters ({exc})", self.feature_params)
        if self.search:
            from bricksml.models import search as search_space

            # As for model_params: with the task and the type still open, either task's may fit.
            problems = []
            for model_type, task in self._candidates(known):
                try:
                    search_space.SearchPlan.parse(self.search, model_type, task)
                    break
                except SearchError as exc:
                    problems.append(exc)
            else:
                self.fail("search", f"a valid search ({problems[0]})", self.search)

    def _candidates(self, known: str | None) -> list[tuple[str, str | None]]:
        """(model type, task) pairs the parameters must suit one of, as far as they are known."""
        if self.model_type:
            return [(self.model_type, known)]
        return [(tasks.DEFAULT_MODEL_TYPE[t], t) for t in ([known] if known else tasks.TASKS)]

    def _check_model_params(self, known: str | None) -> None:
        """Valid for the model type (or the task's default type) and the task, when they are known.

        Under task=auto with no model_type, parameters that suit either task's default pass; the
        job checks them again against its data version's task before any run starts.
        """
        from bricksml.models.pipeline import check_model_params_for

        problems = []
        for model_type, task in self._candidates(known):
            try:
                check_model_params_for(model_type, self.model_params, self.seed, task)
                return
            except ModelParamError as exc:
                problems.append((model_type, exc))
        model_type, exc = problems[0]
        self.fail("model_params", f"valid for model_type {model_type!r} ({exc})", self.model_params)

    def _check_gate(self, known: str | None) -> None:
        """gate_metric for the task when it is known; gate_min for scores, gate_max for errors."""
        metric = self.gate_metric
        if metric and known and metric not in tasks.GATE_METRICS[known]:
            self.fail("gate_metric", gate_metric_for_task(known), metric)
        if not metric:
            return
        if self.gate_min is not None and tasks.direction(metric) == tasks.LOWER:
            self.fail(
                "gate_min",
                f"empty for gate_metric {metric!r}, an error where lower is better (set gate_max)",
                self.gate_min,
            )
        if self.gate_max is not None and tasks.direction(metric) == tasks.HIGHER:
            self.fail(
                "gate_max",
                f"empty for gate_metric {metric!r}, a score where higher is better (set gate_min)",
                self.gate_max,
            )

    @staticmethod
    def _type_for(task: str) -> str:
        from bricksml.models.types import types_for

        return f"a model type with a {task} model ({', '.join(types_for(task))})"

    def task_for(self, data_task: str, data: str) -> str:
        """The task of this run: the data version's; one asked for must be the same."""
        if self.task not in (tasks.AUTO, data_task):
            self.fail(
                "task",
                f"{data_task} or auto: data version {data} was made for {data_task} (create a data "
                f"version with task={self.task} to train that)",
                self.task,
            )
        return data_task

    def model_type_for(self, task: str) -> str:
        """The model type of this run; one without a model for ``task`` is refused, naming those with."""
        model_type = self.model_type or tasks.DEFAULT_MODEL_TYPE[task]
        if task not in MODEL_TYPES[model_type].tasks:
            self.fail("model_type", self._type_for(task), model_type)
        return model_type

    def gate_metric_for(self, task: str) -> str:
        """The metric the gate compares on for ``task``; one of the other task is refused."""
        metric = self.gate_metric or tasks.DEFAULT_METRIC[task]
        if metric not in tasks.GATE_METRICS[task]:
            self.fail("gate_metric", gate_metric_for_task(task), metric)
        return metric

    def gate_threshold(self, metric: str) -> float | None:
        """The level ``metric`` must reach: gate_min (gate_min_f1 for F1), or gate_max for an error."""
        if tasks.direction(metric) == tasks.LOWER:
            return self.gate_max
        if self.gate_min is not None:
            return self.gate_min
        return self.gate_min_f1 if metric.startswith("f1_") else None

    @property
    def registered_model_name(self) -> str:
        return self.model_name or default_model_name(self.model_schema, self.data_name)

    @property
    def experiment(self) -> str:
        """The experiment path with the data set's name in place of {data_name}."""
        return self.experiment_name.replace("{data_name}", self.data_name)

    def spec_dict(self) -> dict[str, Any]:  # the model as asked; the job resolves an empty model_type
        return {
            "model_type": self.model_type,
            "model_params": self.model_params,
            "feature_params": self.feature_params,
        }
