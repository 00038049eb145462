"""What a model predicts, a class or a number, and the metrics that judge each: facts, no estimators.

A data version is made for one task (its manifest's ``task``); a model version carries it as its
``task`` tag. A missing tag means classification: versions registered before there was a choice
are classifiers. Imports nothing heavy: the parameter contracts take their choices from here.
"""

from __future__ import annotations

from collections.abc import Mapping

CLASSIFICATION = "classification"
REGRESSION = "regression"
AUTO = "auto"
TASKS = (CLASSIFICATION, REGRESSION)
#: The ``task`` parameter of create_data and train_models.
CHOICES = (AUTO, *TASKS)
#: The tag (run and model version) and manifest key that say which task a model serves.
TAG = "task"
#: Under ``task=auto`` a numeric label with more distinct values than this is a quantity
#: (regression); fewer are classes (0/1 success, a 1-5 rating is classes unless asked otherwise).
AUTO_DISTINCT = 20
#: The model type trained when ``model_type`` is empty.
DEFAULT_MODEL_TYPE = {CLASSIFICATION: "logistic_regression", REGRESSION: "ridge"}

HIGHER = "higher"
LOWER = "lower"
#: The metrics the promotion gate compares on, with the direction that is better.
GATE_METRICS: dict[str, dict[str, str]] = {
    CLASSIFICATION: {"f1_macro": HIGHER, "f1_weighted": HIGHER, "accuracy": HIGHER},
    REGRESSION: {"rmse": LOWER, "mae": LOWER, "median_ae": LOWER, "mape": LOWER, "r2": HIGHER},
}
DEFAULT_METRIC = {CLASSIFICATION: "f1_macro", REGRESSION: "rmse"}
#: Errors (lower is better, 0 is perfect): the gate's margin and allowed drop on them are shares of
#: the other model's error (0.05: 5% less error), since their units are the label's.
ERROR_METRICS = frozenset({"rmse", "mae", "median_ae", "mape"})
#: How a metric is said to a person.
METRIC_NAMES = {
    "f1_macro": "macro-F1",
    "f1_weighted": "weighted F1",
    "accuracy": "accuracy",
    "rmse": "RMSE",
    "mae": "MAE",
    "median_ae": "median absolute error",
    "mape": "MAPE",
    "r2": "R2",
}


def of_tags(tags: Mapping[str, str] | None) -> str:
    """The task of a model version from its tags: regression only when it says so."""
    return REGRESSION if (tags or {}).get(TAG) == REGRESSION else CLASSIFICATION


def of_manifest(manifest: Mapping[str, object]) -> str:
    """The task a data version was made for; versions made before there was a choice classify."""
    task = manifest.get(TAG)
    return task if task in TASKS else CLASSIFICATION  # type: ignore[return-value]


def direction(metric: str) -> str:
    """``higher`` or ``lower``: which way ``metric`` gets better."""
    for metrics in GATE_METRICS.values():
        if metric in metrics:
            return metrics[metric]
    raise KeyError(metric)


def task_of_metric(metric: str) -> str | None:
    """The task whose gate metrics include ``metric``, or None."""
    return next((task for task, metrics in GATE_METRICS.items() if metric in metrics), None)


def is_better(metric: str, a: float, b: float) -> bool:
    """Whether score ``a`` is strictly better than ``b`` on ``metric``."""
    return a < b if direction(metric) == LOWER else a > b


def gain(metric: str, challenger: float, other: float) -> float:
    """How much better ``challenger`` is than ``other`` (negative: worse), whatever the direction."""
    return other - challenger if direction(metric) == LOWER else challenger - other


def metric_name(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric)
