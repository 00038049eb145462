"""One scikit-learn Pipeline from the raw input columns to the label, validated before training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline

from bricksml.errors import FeatureParamError, ModelParamError, first_line
from bricksml.models import features
from bricksml.models.tasks import CLASSIFICATION
from bricksml.models.types import MODEL_TYPES, ModelType, ceiling_problem

try:  # scikit-learn >= 1.2 validates constructor parameters with a public error type
    from sklearn.utils._param_validation import InvalidParameterError
except ImportError:  # pragma: no cover - older scikit-learn
    InvalidParameterError = ValueError  # type: ignore[misc,assignment]


@dataclass(frozen=True)
class ModelSpec:
    """Everything that decides the pipeline, apart from the data."""

    model_type: str
    model_params: Mapping[str, Any]
    feature_params: Mapping[str, Any]
    seed: int
    task: str = CLASSIFICATION

    @property
    def kind(self) -> ModelType:
        return MODEL_TYPES[self.model_type]

    def with_trial(self, model_params: Mapping[str, Any], feature_params: Mapping[str, Any]) -> ModelSpec:
        """This spec with a search trial's parameters on top."""
        return ModelSpec(
            self.model_type,
            {**self.model_params, **model_params},
            {**self.feature_params, **feature_params},
            self.seed,
            self.task,
        )


def check_model_params(
    model_type: str, model_params: Mapping[str, Any], seed: int = 0, task: str = CLASSIFICATION
) -> BaseEstimator:
    """Build the estimator and validate every parameter now, not minutes later inside fit."""
    kind = MODEL_TYPES[model_type]
    variant = kind.variant(task)
    valid = _settable(kind.estimator({}, seed, task))
    unknown = sorted(set(model_params) - set(valid))
    if unknown:
        raise ModelParamError(f"unknown parameter {unknown[0]!r}; valid: {', '.join(sorted(valid))}")
    too_big = ceiling_problem({**variant.defaults, **model_params})
    if too_big:
        raise ModelParamError(too_big)
    try:
        estimator = kind.estimator(dict(model_params), seed, task)
    except ValueError as exc:  # set_params: unknown name
        raise ModelParamError(first_line(exc)) from None
    for part in _estimators(estimator):
        if not hasattr(part, "_parameter_constraints"):
            continue
        try:
            part._validate_params()
        except (InvalidParameterError, TypeError, ValueError) as exc:
            raise ModelParamError(first_line(exc)) from None
    return estimator


def check_model_params_for(
    model_type: str, model_params: Mapping[str, Any], seed: int = 0, task: str | None = None
) -> None:
    """:func:`check_model_params` for ``task``, or with the task not known yet, for any task of the
    type: the parameters must suit at least one (the job checks them again against the data's)."""
    if task is not None:
        check_model_params(model_type, model_params, seed, task)
        return
    problems = []
    for candidate in MODEL_TYPES[model_type].tasks:
        try:
            check_model_params(model_type, model_params, seed, candidate)
            return
        except ModelParamError as exc:
            problems.append(exc)
    raise problems[0]


def _settable(estimator: BaseEstimator) -> list[str]:
    """The parameters a user may set: a calibrated wrapper passes them to its inner estimator."""
    target = estimator.estimator if isinstance(estimator, CalibratedClassifierCV) else estimator
    return list(target.get_params(deep=False))


def check_feature_params(feature_params: Mapping[str, Any]) -> dict[str, Any]:
    """The feature parameters with defaults, each checked as far as it can be without the data."""
    params = features.resolve_params(feature_params)
    features._pair(params["ngram_range"], "ngram_range")
    if params["char_ngrams"]:
        features._pair(params["char_ngrams"], "char_ngrams")
    features.check_limits(params)
    if "token_pattern" in feature_params:
        features.check_token_pattern(params["token_pattern"])
    return params


def build_pipeline(
    spec: ModelSpec, train: pd.DataFrame, feature_columns: Sequence[str], text_col: str | None
) -> Pipeline:
    """The unfitted pipeline: features chosen from the training data, then the estimator."""
    params = check_feature_params(spec.feature_params)
    features.check_applicable(spec.feature_params, text_col, feature_columns)
    columns = features.split_columns(train, feature_columns, text_col, params)
    if columns["text"]:
        features.check_document_frequencies(params, len(train))
    preprocess = features.build_features(columns, params, spec.kind, spec.seed)
    for part in _estimators(preprocess):
        if not hasattr(part, "_parameter_constraints"):  # e.g. FeatureUnion validates nothing
            continue
        try:
            part._validate_params()
        except (InvalidParameterError, TypeError, ValueError) as exc:
            raise FeatureParamError(first_line(exc)) from None
    if spec.kind.dense and columns["text"]:
        _fit_svd_to_data(preprocess, train)
    estimator = check_model_params(spec.model_type, spec.model_params, spec.seed, spec.task)
    return Pipeline([("features", preprocess), ("model", estimator)])


def _fit_svd_to_data(preprocess: Any, train: pd.DataFrame) -> None:
    """Truncated SVD needs fewer components than rows and than TF-IDF terms; small data gets fewer."""
    for _, transformer, columns in preprocess.transformers:
        steps = dict(transformer.steps) if hasattr(transformer, "steps") else {}
        svd = steps.get("svd")
        if svd is None:
            continue
        text_only = Pipeline([(name, step) for name, step in transformer.steps if name != "svd"])
        terms = clone(text_only).fit_transform(train[columns]).shape[1]
        svd.set_params(n_components=max(1, min(svd.n_components, len(train) - 1, terms - 1)))


def _estimators(estimator: Any) -> list[Any]:
    """The estimator and every estimator nested in it (pipelines, column transformers, calibration)."""
    out = [estimator]
    for value in estimator.get_params(deep=False).values():
        if isinstance(value, BaseEstimator):
            out.extend(_estimators(value))
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], BaseEstimator):
                    out.extend(_estimators(item[1]))
    return out
