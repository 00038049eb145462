"""The model types bricksml trains: one entry per type, in one place, for both tasks.

Each entry says how to build its estimator for a task from ``model_params`` and what its features
need: ``dense`` estimators get TF-IDF reduced by truncated SVD (latent semantic analysis) instead
of the sparse matrix, and ``nonnegative`` estimators get min-max scaling instead of
standardisation. A type that serves both tasks has one name (``random_forest`` is a classifier on
a classification data version and a regressor on a regression one). Adding a model type is one
more :class:`ModelType` in :data:`MODEL_TYPES`.

The table names estimator classes by import path and imports one only when it builds it: the
train contract takes its ``model_type`` choices from here, and a command line that is only being
parsed or refused must not wait a second or more for scikit-learn (``benchmarks/startup.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bricksml.errors import ModelParamError
from bricksml.models.tasks import CLASSIFICATION, REGRESSION, TASKS

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

Build = Callable[[dict[str, Any], int], "BaseEstimator"]


@dataclass(frozen=True)
class Estimator:
    """How a model type builds its estimator for one task."""

    build: Build
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # "balanced": weigh samples inversely to their class's frequency at fit time, for estimators
    # without class_weight or whose probabilities come from a calibration that ignores it.
    sample_weight: str | None = None
    # Types only a fitted estimator holds that skops does not trust by default: the model is stored
    # in skops' safe format, and loading it trusts exactly these (and what the unfitted pipeline has).
    fitted_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelType:
    """One kind of model: its estimator per task and what its input must look like."""

    name: str
    classifier: Estimator | None = None
    regressor: Estimator | None = None
    dense: bool = False
    nonnegative: bool = False
    explain: str = "none"  # "coef": strongest coefficients; "importances": tree importances

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(t for t in TASKS if self.variant_or_none(t) is not None)

    def variant_or_none(self, task: str) -> Estimator | None:
        return self.classifier if task == CLASSIFICATION else self.regressor if task == REGRESSION else None

    def variant(self, task: str = CLASSIFICATION) -> Estimator:
        """The estimator of this type for ``task``; a type that lacks one names those that have it."""
        found = self.variant_or_none(task)
        if found is None:
            others = ", ".join(types_for(task))
            raise ModelParamError(
                f"model_type {self.name!r} has no {task} model; for {task} use one of {others}"
            )
        return found

    @property
    def defaults(self) -> Mapping[str, Any]:
        """The classifier's defaults (:meth:`variant` has each task's)."""
        return self.variant(self.tasks[0]).defaults

    @property
    def fitted_types(self) -> tuple[str, ...]:
        """The fitted-only types of every task's estimator."""
        found = [t for task in self.tasks for t in self.variant(task).fitted_types]
        return tuple(dict.fromkeys(found))

    def estimator(
        self, model_params: Mapping[str, Any], seed: int, task: str = CLASSIFICATION
    ) -> BaseEstimator:
        """The estimator with the defaults, then the user's parameters, applied."""
        variant = self.variant(task)
        return variant.build({**variant.defaults, **model_params}, seed)


def _class(path: str) -> type:
    """``"sklearn.svm.LinearSVC"`` -> the class, imported now."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _seeded(path: str, **fixed: Any) -> Build:
    def build(params: dict[str, Any], seed: int) -> BaseEstimator:
        estimator = _class(path)(**fixed)
        if "random_state" in estimator.get_params():
            estimator.set_params(random_state=seed)
        return estimator.set_params(**params)

    return build


def _calibrated(path: str) -> Build:
    """A linear classifier without predict_proba, calibrated (Platt scaling on 3 folds)."""

    def build(params: dict[str, Any], seed: int) -> BaseEstimator:
        inner = _class(path)()
        if "random_state" in inner.get_params():
            inner.set_params(random_state=seed)
        inner.set_params(**params)
        return _class("sklearn.calibration.CalibratedClassifierCV")(inner, method="sigmoid", cv=3)

    return build


_CALIBRATION = ("sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration")
_TREE = ("sklearn.tree._tree.Tree",)
_BOOSTED = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)

MODEL_TYPES: dict[str, ModelType] = {
    t.name: t
    for t in (
        ModelType(
            "naive_bayes",
            classifier=Estimator(
                _seeded("sklearn.naive_bayes.MultinomialNB"), {"alpha": 0.1}, sample_weight="balanced"
            ),
            nonnegative=True,
            explain="coef",
        ),
        ModelType(
            "logistic_regression",
            classifier=Estimator(
                _seeded("sklearn.linear_model.LogisticRegression"),
                {"C": 4.0, "max_iter": 2000, "class_weight": "balanced"},
            ),
            explain="coef",
        ),
        ModelType(
            "linear_svm",
            classifier=Estimator(
                _calibrated("sklearn.svm.LinearSVC"),
                {"C": 0.5},
                sample_weight="balanced",  # reaches the SVM and its calibration alike
                fitted_types=_CALIBRATION,
            ),
            explain="coef",
        ),
        ModelType(
            # L2-penalised least squares: Ridge, or as a classifier RidgeClassifier (calibrated
            # for probabilities).
            "ridge",
            classifier=Estimator(
                _calibrated("sklearn.linear_model.RidgeClassifier"),
                {"alpha": 1.0},
                sample_weight="balanced",
                fitted_types=_CALIBRATION,
            ),
            regressor=Estimator(_seeded("sklearn.linear_model.Ridge"), {"alpha": 1.0}),
            explain="coef",
        ),
        ModelType(
            # The robust loss: Huber's for regression (outlying labels weigh linearly, not
            # squared); for classification its modified form, which gives probabilities.
            "huber",
            classifier=Estimator(
                _seeded("sklearn.linear_model.SGDClassifier", loss="modified_huber"),
                {"alpha": 1e-4, "max_iter": 1000, "class_weight": "balanced"},
            ),
            regressor=Estimator(
                _seeded("sklearn.linear_model.HuberRegressor"),
                {"epsilon": 1.35, "alpha": 1e-4, "max_iter": 1000},
            ),
            explain="coef",
        ),
        ModelType(
            "random_forest",
            classifier=Estimator(
                _seeded("sklearn.ensemble.RandomForestClassifier"),
                {"n_estimators": 200, "n_jobs": -1, "class_weight": "balanced_subsample"},
                fitted_types=_TREE,
            ),
            regressor=Estimator(
                _seeded("sklearn.ensemble.RandomForestRegressor"),
                {"n_estimators": 200, "n_jobs": -1},
                fitted_types=_TREE,
            ),
            explain="importances",
        ),
        ModelType(
            "gradient_boosting",
            classifier=Estimator(
                _seeded("sklearn.ensemble.HistGradientBoostingClassifier"),
                {"max_iter": 200, "learning_rate": 0.1, "early_stopping": False},
                fitted_types=_BOOSTED,
            ),
            regressor=Estimator(
                _seeded("sklearn.ensemble.HistGradientBoostingRegressor"),
                {"max_iter": 200, "learning_rate": 0.1, "early_stopping": False},
                fitted_types=_BOOSTED,
            ),
            dense=True,
            explain="importances",
        ),
    )
}


def types_for(task: str) -> list[str]:
    """The model types that have a model for ``task``."""
    return [name for name, kind in MODEL_TYPES.items() if kind.variant_or_none(task) is not None]


#: Largest value of a resource parameter, for any model type that has it: a typo such as
#: ``n_estimators: 1000000000`` would otherwise run until the job's timeout. ``n_jobs`` may be -1.
CEILINGS: dict[str, int] = {
    "n_estimators": 5000,
    "max_iter": 100_000,
    "n_jobs": 64,
    "max_depth": 1000,
    "max_leaf_nodes": 1_000_000,
    "max_bins": 255,
}


def ceiling_problem(params: Mapping[str, Any]) -> str | None:
    """The first resource parameter above its ceiling, said as the fix, or None."""
    for name, limit in CEILINGS.items():
        value = params.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > limit:
            return f"{name} is at most {limit:,} (got {value:,})"
    return None


def get(name: str) -> ModelType:
    return MODEL_TYPES[name]


def fit_params(model_type: str, y: Sequence[Any], task: str = CLASSIFICATION) -> dict[str, Any]:
    """Keyword arguments for ``Pipeline.fit``: balanced sample weights where the type asks."""
    variant = MODEL_TYPES[model_type].variant_or_none(task)
    if variant is None or variant.sample_weight != "balanced":
        return {}
    import numpy as np
    from sklearn.utils.class_weight import compute_sample_weight

    return {"model__sample_weight": compute_sample_weight("balanced", np.asarray(y))}
