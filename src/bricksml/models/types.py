"""The model types bricksml trains: one entry per type, in one place.

Each entry says how to build the estimator from ``model_params`` and what its features need:
``dense`` estimators get TF-IDF reduced by truncated SVD (latent semantic analysis) instead of the
sparse matrix, and ``nonnegative`` estimators get min-max scaling instead of standardisation.
Adding a model type is one more :class:`ModelType` in :data:`MODEL_TYPES`.

The table names estimator classes by import path and imports one only when it builds it: the
train contract takes its ``model_type`` choices from here, and a command line that is only being
parsed or refused must not wait a second or more for scikit-learn (``benchmarks/startup.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator


@dataclass(frozen=True)
class ModelType:
    """How to build one kind of classifier and what its input must look like."""

    name: str
    build: Callable[[dict[str, Any], int], BaseEstimator]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    dense: bool = False
    nonnegative: bool = False
    explain: str = "none"  # "coef": strongest features per class; "importances": tree importances
    # "balanced": weigh samples inversely to their class's frequency at fit time, for estimators
    # without class_weight or whose probabilities come from a calibration that ignores it.
    sample_weight: str | None = None
    # Types only a fitted estimator holds that skops does not trust by default: the model is stored
    # in skops' safe format, and loading it trusts exactly these (and what the unfitted pipeline has).
    fitted_types: tuple[str, ...] = ()

    def estimator(self, model_params: Mapping[str, Any], seed: int) -> BaseEstimator:
        """The estimator with the defaults, then the user's parameters, applied."""
        return self.build({**self.defaults, **model_params}, seed)


def _class(path: str) -> type:
    """``"sklearn.svm.LinearSVC"`` -> the class, imported now."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _seeded(path: str, **fixed: Any) -> Callable[[dict[str, Any], int], BaseEstimator]:
    def build(params: dict[str, Any], seed: int) -> BaseEstimator:
        estimator = _class(path)(**fixed)
        if "random_state" in estimator.get_params():
            estimator.set_params(random_state=seed)
        return estimator.set_params(**params)

    return build


def _calibrated_linear_svm(params: dict[str, Any], seed: int) -> BaseEstimator:
    # LinearSVC has no predict_proba; calibration (Platt scaling on 3 folds) gives probabilities.
    svm = _class("sklearn.svm.LinearSVC")(random_state=seed).set_params(**params)
    return _class("sklearn.calibration.CalibratedClassifierCV")(svm, method="sigmoid", cv=3)


MODEL_TYPES: dict[str, ModelType] = {
    t.name: t
    for t in (
        ModelType(
            "naive_bayes",
            _seeded("sklearn.naive_bayes.MultinomialNB"),
            {"alpha": 0.1},
            nonnegative=True,
            explain="coef",
            sample_weight="balanced",
        ),
        ModelType(
            "logistic_regression",
            _seeded("sklearn.linear_model.LogisticRegression"),
            {"C": 4.0, "max_iter": 2000, "class_weight": "balanced"},
            explain="coef",
        ),
        ModelType(
            "linear_svm",
            _calibrated_linear_svm,
            {"C": 0.5},
            explain="coef",
            sample_weight="balanced",  # reaches the SVM and its calibration alike
            fitted_types=(
                "sklearn.calibration._CalibratedClassifier",
                "sklearn.calibration._SigmoidCalibration",
            ),
        ),
        ModelType(
            "random_forest",
            _seeded("sklearn.ensemble.RandomForestClassifier"),
            {"n_estimators": 200, "n_jobs": -1, "class_weight": "balanced_subsample"},
            explain="importances",
            fitted_types=("sklearn.tree._tree.Tree",),
        ),
        ModelType(
            "gradient_boosting",
            _seeded("sklearn.ensemble.HistGradientBoostingClassifier"),
            {"max_iter": 200, "learning_rate": 0.1, "early_stopping": False},
            dense=True,
            explain="importances",
            fitted_types=("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",),
        ),
    )
}


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


def fit_params(model_type: str, y: Sequence[Any]) -> dict[str, Any]:
    """Keyword arguments for ``Pipeline.fit``: balanced sample weights where the type asks."""
    if MODEL_TYPES[model_type].sample_weight != "balanced":
        return {}
    import numpy as np
    from sklearn.utils.class_weight import compute_sample_weight

    return {"model__sample_weight": compute_sample_weight("balanced", np.asarray(y))}
