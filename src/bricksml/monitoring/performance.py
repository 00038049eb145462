"""The gate's metric on a labelled window, and how far it fell from the score the version was promoted on.

The metric is the one the version's gate judged it by (its ``gate_record``), computed the gate's
way: macro-F1 over the classes that have rows. A drop is absolute for scores between 0 and 1
(F1, accuracy, R²) and relative for errors (RMSE, MAE), whose scale is the label's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score


def _codes(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Labels and predictions as integer codes of one shared set of labels (and its size).

    scikit-learn compares labels in Python: on a million rows that costs seconds, while counting
    codes costs milliseconds and gives the same numbers. Labels match as text (1 and "1" alike).
    """
    true_codes, true_labels = _factorized(y_true)
    pred_codes, pred_labels = _factorized(y_pred)
    labels = true_labels.append(pred_labels.difference(true_labels))
    return true_codes, labels.get_indexer(pred_labels)[pred_codes], len(labels)


def _factorized(values: Any) -> tuple[np.ndarray, pd.Index]:
    codes, uniques = pd.factorize(pd.Series(values))
    text = pd.Index(uniques).astype(str)
    if text.is_unique:
        return codes, text
    return pd.factorize(pd.Series(values).astype(str))  # two labels with one text (1 and "1")


def _f1(average: str) -> Callable[[Any, Any], float]:
    """F1 as the gate computes it: over the labels that have rows, a label without rows left out."""

    def score(y_true: Any, y_pred: Any) -> float:
        true, pred, n = _codes(y_true, y_pred)
        matrix = np.bincount(true * n + pred, minlength=n * n).reshape(n, n).astype(np.float64)
        hits, support, predicted = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(predicted > 0, hits / predicted, 0.0)
            recall = np.where(support > 0, hits / support, 0.0)
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        present = support > 0
        if average == "weighted":
            return float(np.sum(f1[present] * support[present]) / support[present].sum())
        return float(f1[present].mean())

    return score


def _accuracy(y_true: Any, y_pred: Any) -> float:
    true, pred, _ = _codes(y_true, y_pred)
    return float(np.mean(true == pred))


def _rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.sqrt(mean_squared_error(y_true, y_pred)))


#: Metric name -> (function of labels and predictions, higher is better, needs numbers).
METRICS: dict[str, tuple[Callable[[Any, Any], float], bool, bool]] = {
    "f1_macro": (_f1("macro"), True, False),
    "f1_weighted": (_f1("weighted"), True, False),
    "accuracy": (_accuracy, True, False),
    "rmse": (_rmse, False, True),
    "mae": (lambda y, p: float(mean_absolute_error(y, p)), False, True),
    "r2": (lambda y, p: float(r2_score(y, p)), True, True),
}


def known(metric: str) -> bool:
    return metric in METRICS


def score(metric: str, y_true: Any, y_pred: Any) -> float:
    """``metric`` of predictions against labels (both as the task has them)."""
    function, _, numeric = METRICS[metric]
    if numeric:
        return function(np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64))
    return function(y_true, y_pred)


def drop(metric: str, baseline: float, current: float) -> float:
    """How much worse ``current`` is than ``baseline`` (negative: better)."""
    _, higher_is_better, _ = METRICS[metric]
    if higher_is_better:
        return baseline - current
    return (current - baseline) / abs(baseline) if baseline else current - baseline


def drop_unit(metric: str) -> str:
    """How :func:`drop` measures, for a reason sentence."""
    return "points" if METRICS[metric][1] else "relative increase"
