"""What drives a fitted pipeline: strongest features per class (or, for a regressor, the features
that push the prediction up and down the most), or tree feature importances."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline


def feature_names(pipeline: Pipeline) -> np.ndarray | None:
    try:
        return np.asarray(pipeline.named_steps["features"].get_feature_names_out())
    except (AttributeError, ValueError):  # e.g. SVD components have no readable names
        return None


def explain(pipeline: Pipeline, how: str, top: int = 20) -> dict[str, Any] | None:
    """The strongest features per class (linear models) or the top importances (trees), as JSON."""
    names = feature_names(pipeline)
    model = pipeline.named_steps["model"]
    if names is None:
        return None
    if how == "coef":
        weights = linear_weights(model)
        if weights is None:
            return None
        if not hasattr(model, "classes_"):  # a regressor: one coefficient per feature
            row = np.ravel(weights)
            order = np.argsort(row)
            return {
                "kind": "strongest coefficients",
                "raise the prediction": [
                    [short_name(names[i]), round(float(row[i]), 5)] for i in order[::-1][:top] if row[i] > 0
                ],
                "lower the prediction": [
                    [short_name(names[i]), round(float(row[i]), 5)] for i in order[:top] if row[i] < 0
                ],
            }
        classes = [str(c) for c in model.classes_]
        weights = np.atleast_2d(weights)  # a binary RidgeClassifier keeps one row as a vector
        if weights.shape[0] == 1:  # binary: one row, positive class = classes[1]
            weights = np.vstack([-weights[0], weights[0]])
        out = {}
        for label, row in zip(classes, weights, strict=True):
            order = np.argsort(row)[::-1][:top]
            out[label] = [[short_name(names[i]), round(float(row[i]), 5)] for i in order]
        return {"kind": "strongest features per class", "classes": out}
    if how == "importances" and hasattr(model, "feature_importances_"):
        importances = np.asarray(model.feature_importances_)
        order = np.argsort(importances)[::-1][:top]
        return {
            "kind": "feature importances",
            "features": [[short_name(names[i]), round(float(importances[i]), 6)] for i in order],
        }
    return None


def linear_weights(model: Any) -> np.ndarray | None:
    if hasattr(model, "coef_"):
        return np.asarray(model.coef_)
    if hasattr(model, "feature_log_prob_"):  # naive Bayes: log-probability above the class mean
        logp = np.asarray(model.feature_log_prob_)
        return logp - logp.mean(axis=0, keepdims=True)
    calibrated = getattr(model, "calibrated_classifiers_", None)
    if calibrated:  # calibrated linear SVM: average the folds' coefficients
        coefs = [np.asarray(c.estimator.coef_) for c in calibrated if hasattr(c.estimator, "coef_")]
        return np.mean(coefs, axis=0) if coefs else None
    return None


def short_name(name: str) -> str:
    """'text__tfidf__profit' -> 'profit': the transformer prefix says nothing to a reader."""
    return str(name).split("__")[-1]
