"""The model types bricksml trains: one entry per type, in one place.

Each entry says how to build the estimator from ``model_params`` and what its features need:
``dense`` estimators get TF-IDF reduced by truncated SVD (latent semantic analysis) instead of the
sparse matrix, and ``nonnegative`` estimators get min-max scaling instead of standardisation.
Adding a model type is one more :class:`ModelType` in :data:`MODEL_TYPES`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.svm import LinearSVC


@dataclass(frozen=True)
class ModelType:
    """How to build one kind of classifier and what its input must look like."""

    name: str
    build: Callable[[dict[str, Any], int], BaseEstimator]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    dense: bool = False
    nonnegative: bool = False
    explain: str = "none"  # "coef": strongest features per class; "importances": tree importances

    def estimator(self, model_params: Mapping[str, Any], seed: int) -> BaseEstimator:
        """The estimator with the defaults, then the user's parameters, applied."""
        return self.build({**self.defaults, **model_params}, seed)


def _seeded(cls: type, **fixed: Any) -> Callable[[dict[str, Any], int], BaseEstimator]:
    def build(params: dict[str, Any], seed: int) -> BaseEstimator:
        estimator = cls(**fixed)
        if "random_state" in estimator.get_params():
            estimator.set_params(random_state=seed)
        return estimator.set_params(**params)

    return build


def _calibrated_linear_svm(params: dict[str, Any], seed: int) -> BaseEstimator:
    # LinearSVC has no predict_proba; calibration (Platt scaling on 3 folds) gives probabilities.
    svm = LinearSVC(random_state=seed).set_params(**params)
    return CalibratedClassifierCV(svm, method="sigmoid", cv=3)


MODEL_TYPES: dict[str, ModelType] = {
    t.name: t
    for t in (
        ModelType("naive_bayes", _seeded(MultinomialNB), {"alpha": 0.1}, nonnegative=True, explain="coef"),
        ModelType(
            "logistic_regression",
            _seeded(LogisticRegression),
            {"C": 4.0, "max_iter": 2000, "class_weight": "balanced"},
            explain="coef",
        ),
        ModelType(
            "linear_svm",
            _calibrated_linear_svm,
            {"C": 0.5, "class_weight": "balanced"},
            explain="coef",
        ),
        ModelType(
            "random_forest",
            _seeded(RandomForestClassifier),
            {"n_estimators": 200, "n_jobs": -1, "class_weight": "balanced_subsample"},
            explain="importances",
        ),
        ModelType(
            "gradient_boosting",
            _seeded(HistGradientBoostingClassifier),
            {"max_iter": 200, "learning_rate": 0.1, "early_stopping": False},
            dense=True,
            explain="importances",
        ),
    )
}


def get(name: str) -> ModelType:
    return MODEL_TYPES[name]
