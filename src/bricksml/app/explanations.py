"""What drove one prediction: the features of this input with the largest contribution to it.

A linear model (logistic regression, linear SVM, naive Bayes, a linear regressor) adds up weight x
value over the features, so each feature's share of the answer is exact: for a text model these
are the words of the sentence. A tree ensemble cannot split one answer that way: it tells which
of the features present in this input it relies on most overall. Other models (SVD-reduced text)
cannot tell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.pipeline import Pipeline

from bricksml.models.explain import feature_names, linear_weights, short_name

TOP = 8


@dataclass(frozen=True)
class Drivers:
    """The strongest features and what the numbers mean."""

    kind: str  # "contribution" | "importance"
    features: list[tuple[str, float]]

    @property
    def title(self) -> str:
        if self.kind == "contribution":
            return "What drove it: each feature's contribution (weight x value; negative ones pull away)"
        return "What drove it: the features of this input the model relies on most (importance overall)"


def drivers(pipeline: Pipeline, row: pd.DataFrame, label: str | None, top: int = TOP) -> Drivers | None:
    """The ``top`` drivers of the answer for ``row`` (one row), toward ``label`` for a classifier."""
    names = feature_names(pipeline)
    if names is None:
        return None
    values = pipeline.named_steps["features"].transform(row)
    values = np.asarray(values.toarray() if sparse.issparse(values) else values, dtype=float)[0]
    model = pipeline.named_steps["model"]
    weights = linear_weights(model)
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if weights.ndim == 2 and label is not None:
            classes = [str(c) for c in model.classes_]
            if weights.shape[0] == 1:  # binary: one row of weights, toward classes[1]
                weights = weights[0] if label == classes[1] else -weights[0]
            else:
                weights = weights[classes.index(label)]
        scores, kind = values * weights.reshape(-1), "contribution"
    elif hasattr(model, "feature_importances_"):
        scores, kind = np.asarray(model.feature_importances_) * (values != 0), "importance"
    else:
        return None
    order = [i for i in np.argsort(-np.abs(scores)) if scores[i] != 0][:top]
    if not order:
        return None
    return Drivers(kind, [(short_name(names[i]), round(float(scores[i]), 5)) for i in order])
