"""Hyperparameter search over model and feature parameters: the plan, and its trials.

A search is JSON such as::

    {"method": "random", "trials": 8, "folds": 3, "metric": "f1_macro",
     "model_params": {"C": {"loguniform": [0.1, 20]}},
     "feature_params": {"ngram_range": [[1, 1], [1, 2]]}}

Grid values are lists; random search also takes ``uniform``, ``loguniform`` and ``randint``
ranges. Each trial is cross-validated on the training split; the caller refits the best one.
The metric fits the task: ``f1_macro`` by default for classification, ``rmse`` for regression
(lower is better; scikit-learn scores it as its negative).
SciPy and scikit-learn load on first use: the train contract imports this module to check a search.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bricksml.errors import ModelParamError, SearchError
from bricksml.models.tasks import CLASSIFICATION, DEFAULT_METRIC, REGRESSION

#: The metrics a search may rank trials by, per task, with the scikit-learn scorer of each.
SCORERS: dict[str, dict[str, str]] = {
    CLASSIFICATION: {
        "f1_macro": "f1_macro",
        "f1_weighted": "f1_weighted",
        "accuracy": "accuracy",
        "roc_auc_ovr": "roc_auc_ovr",
        "neg_log_loss": "neg_log_loss",
    },
    REGRESSION: {
        "rmse": "neg_root_mean_squared_error",
        "mae": "neg_mean_absolute_error",
        "median_ae": "neg_median_absolute_error",
        "mape": "neg_mean_absolute_percentage_error",
        "r2": "r2",
    },
}
METRICS = tuple(SCORERS[CLASSIFICATION])
KEYS = ("method", "trials", "folds", "metric", "model_params", "feature_params")
MAX_GRID = 200
_DISTRIBUTIONS = {"uniform", "loguniform", "randint"}


@dataclass(frozen=True)
class Trial:
    number: int
    model_params: dict[str, Any]
    feature_params: dict[str, Any]


@dataclass(frozen=True)
class SearchPlan:
    method: str
    trials: int
    folds: int
    metric: str
    model_space: dict[str, Any]
    feature_space: dict[str, Any]

    @property
    def task(self) -> str:
        return REGRESSION if self.metric in SCORERS[REGRESSION] else CLASSIFICATION

    @property
    def scorer(self) -> str:
        """The scikit-learn scoring name: higher is better, errors come negated."""
        return SCORERS[self.task][self.metric]

    @property
    def negated(self) -> bool:
        """Whether scikit-learn's score is the metric's negative (an error: lower is better)."""
        return self.scorer.startswith("neg_") and not self.metric.startswith("neg_")

    @classmethod
    def parse(cls, raw: Mapping[str, Any], model_type: str, task: str | None = None) -> SearchPlan:
        """Check a search as far as it can be without the data; ``task`` when known (else: any)."""
        unknown = sorted(set(raw) - set(KEYS))
        if unknown:
            raise SearchError(f"unknown key {unknown[0]!r}; valid keys: {', '.join(KEYS)}")
        model_space = _space(raw.get("model_params", {}), "model_params")
        feature_space = _space(raw.get("feature_params", {}), "feature_params")
        from bricksml.models.features import FEATURE_PARAM_NAMES

        bad = sorted(set(feature_space) - set(FEATURE_PARAM_NAMES))
        if bad:
            raise SearchError(f"feature_params: unknown feature parameter {bad[0]!r}")
        if not model_space and not feature_space:
            raise SearchError("give model_params and/or feature_params to search over")
        has_ranges = any(isinstance(v, dict) for v in {**model_space, **feature_space}.values())
        method = raw.get("method", "random" if has_ranges else "grid")
        if method not in ("grid", "random"):
            raise SearchError(f"method must be grid or random, got {method!r}")
        if method == "grid" and has_ranges:
            raise SearchError("a grid search needs lists of values, not ranges; use method random")
        trials = raw.get("trials", 10)
        folds = raw.get("folds", 3)
        for key, value, low in (("trials", trials, 1), ("folds", folds, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise SearchError(f"{key} must be a whole number >= {low}, got {value!r}")
        metric = raw.get("metric") or DEFAULT_METRIC[task or CLASSIFICATION]
        allowed = SCORERS[task] if task else {**SCORERS[CLASSIFICATION], **SCORERS[REGRESSION]}
        if metric not in allowed:
            raise SearchError(
                f"metric must be one of {', '.join(allowed)}{f' for {task}' if task else ''}, got {metric!r}"
            )
        plan = cls(method, trials, folds, metric, model_space, feature_space)
        if method == "grid" and plan.grid_size() > MAX_GRID:
            raise SearchError(
                f"the grid has {plan.grid_size()} combinations (at most {MAX_GRID}); use method random"
            )
        from bricksml.models.pipeline import check_model_params_for

        known = task or (plan.task if raw.get("metric") else None)
        for trial in plan.trials_iter(seed=0):
            try:
                check_model_params_for(model_type, trial.model_params, 0, known)
            except ModelParamError as exc:
                raise SearchError(f"model_params for {model_type}: {exc}") from None
        return plan

    def grid_size(self) -> int:
        from sklearn.model_selection import ParameterGrid

        return len(ParameterGrid(_grid(self.model_space, self.feature_space)))

    def trials_iter(self, seed: int) -> Iterator[Trial]:
        """The trials: every grid point, or ``trials`` random draws (deterministic by seed)."""
        from sklearn.model_selection import ParameterGrid, ParameterSampler

        if self.method == "grid":
            points: Any = ParameterGrid(_grid(self.model_space, self.feature_space))
        else:
            space = {
                **{f"model.{k}": _distribution(v) for k, v in self.model_space.items()},
                **{f"features.{k}": _distribution(v) for k, v in self.feature_space.items()},
            }
            points = ParameterSampler(space, n_iter=self.trials, random_state=seed)
        for number, point in enumerate(points):
            model = {k.split(".", 1)[1]: _plain(v) for k, v in point.items() if k.startswith("model.")}
            feats = {k.split(".", 1)[1]: _plain(v) for k, v in point.items() if k.startswith("features.")}
            yield Trial(number, model, feats)


def _space(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SearchError(f"{key} must be an object of parameter -> values, got {value!r}")
    for name, values in value.items():
        if isinstance(values, dict):
            kinds = set(values)
            if len(kinds) != 1 or not kinds <= _DISTRIBUTIONS:
                raise SearchError(f"{key}.{name}: a range is one of {sorted(_DISTRIBUTIONS)}, got {values!r}")
            ((kind, bounds),) = values.items()
            if not (isinstance(bounds, list) and len(bounds) == 2 and bounds[0] < bounds[1]):
                raise SearchError(f"{key}.{name}: {kind} needs [low, high] with low < high, got {bounds!r}")
            if kind == "loguniform" and bounds[0] <= 0:
                raise SearchError(f"{key}.{name}: loguniform needs a positive low bound, got {bounds[0]!r}")
        elif not isinstance(values, list) or not values:
            raise SearchError(f"{key}.{name}: give a non-empty list of values, got {values!r}")
    return dict(value)


def _grid(model_space: dict[str, Any], feature_space: dict[str, Any]) -> dict[str, list]:
    return {
        **{f"model.{k}": v for k, v in model_space.items()},
        **{f"features.{k}": v for k, v in feature_space.items()},
    }


def _distribution(value: Any) -> Any:
    if isinstance(value, list):
        return value
    from scipy import stats

    ((kind, (low, high)),) = value.items()
    if kind == "uniform":
        return stats.uniform(low, high - low)
    if kind == "loguniform":
        return stats.loguniform(low, high)
    return stats.randint(int(low), int(high) + 1)


def _plain(value: Any) -> Any:
    """NumPy scalars from the samplers as plain Python values (JSON and MLflow friendly)."""
    return value.item() if hasattr(value, "item") else value
