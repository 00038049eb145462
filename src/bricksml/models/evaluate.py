"""Metrics named the way MLflow logs them: classification from labels and predicted probabilities,
regression from labels and predicted numbers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    median_absolute_error,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
)

_METRIC_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")


def predictions(proba: np.ndarray, classes: Sequence[Any]) -> np.ndarray:
    return np.asarray(classes)[np.argmax(proba, axis=1)]


def metric_key(text: str) -> str:
    """A label as it may appear in an MLflow metric name."""
    return _METRIC_CHARS.sub("_", str(text))


def classification_metrics(
    y_true: Sequence[Any], proba: np.ndarray, classes: Sequence[Any]
) -> dict[str, float]:
    """Accuracy, macro/weighted precision-recall-F1, per-class F1, ROC-AUC (one-vs-rest), log loss.

    Averages and per-class F1 cover the classes that have rows in ``y_true`` (a label the model
    does not know included): a class with no support has no F1 to average, and counting it as 0
    (scikit-learn's ``zero_division``) would judge a model on rows that are not there.
    ``classes_scored`` says how many classes that was.
    """
    y_true = np.asarray(y_true)
    classes = list(classes)
    y_pred = predictions(proba, classes)
    scored = supported_labels(y_true, classes)
    out: dict[str, float] = {"accuracy": accuracy_score(y_true, y_pred), "classes_scored": len(scored)}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=scored, average=average, zero_division=0
        )
        out[f"precision_{average}"] = p
        out[f"recall_{average}"] = r
        out[f"f1_{average}"] = f
    per_class = f1_score(y_true, y_pred, labels=scored, average=None, zero_division=0)
    for label, value in zip(scored, per_class, strict=True):
        out[f"f1_class_{metric_key(label)}"] = value
    codes = pd.Index(classes).get_indexer(y_true)  # -1: a label the model does not know
    present = np.bincount(codes[codes >= 0], minlength=len(classes)) > 0
    if present.sum() >= 2 and (codes >= 0).all():
        if len(classes) == 2:
            out["roc_auc_ovr"] = roc_auc_score(codes == 1, proba[:, 1])
        elif present.all():
            out["roc_auc_ovr"] = roc_auc_ovr(codes, proba)
        out["log_loss"] = log_loss_of_codes(codes, proba)
    return {k: float(v) for k, v in out.items()}


def supported_labels(y_true: Sequence[Any], classes: Sequence[Any]) -> list[Any]:
    """The labels with rows in ``y_true``: the model's classes in order, then labels it does not know."""
    present = set(pd.unique(np.asarray(y_true)).tolist())
    known = set(classes)
    return [c for c in classes if c in present] + sorted(present - known, key=str)


def absent_classes(y_true: Sequence[Any], classes: Sequence[Any]) -> list[str]:
    """The model's classes with no row in ``y_true``: left out of every average, and said so."""
    present = set(pd.unique(np.asarray(y_true)).tolist())
    return [str(c) for c in classes if c not in present]


def roc_auc_ovr(codes: np.ndarray, proba: np.ndarray) -> float:
    """Macro one-vs-rest ROC-AUC, one class at a time.

    What ``roc_auc_score(multi_class="ovr")`` computes (the mean of the per-class binary AUCs),
    without binarizing every class at once: ~75 MB less at a million rows.
    """
    return float(np.mean([roc_auc_score(codes == k, proba[:, k]) for k in range(proba.shape[1])]))


def log_loss_of_codes(codes: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log-probability of the true class, clipped to [1e-15, 1 - eps].

    The floor keeps a certain-but-wrong row finite; the ceiling is scikit-learn's ``log_loss`` own.
    Only each row's probability of its own class is taken: no one-hot matrix of every row.
    """
    true_class = proba[np.arange(len(codes)), codes].astype(np.float64)
    return float(-np.mean(np.log(np.clip(true_class, 1e-15, 1 - np.finfo(np.float64).eps))))


def report(y_true: Sequence[Any], proba: np.ndarray, classes: Sequence[Any]) -> dict[str, Any]:
    """scikit-learn's classification report and the confusion matrix, as JSON-ready data."""
    y_pred = predictions(proba, classes)
    labels = [str(c) for c in classes]
    return {
        "labels": labels,
        "report": classification_report(
            np.asarray(y_true).astype(str),
            y_pred.astype(str),
            labels=labels,
            output_dict=True,
            zero_division=0,
        ),
        "confusion_matrix": confusion_matrix(np.asarray(y_true), y_pred, labels=list(classes)).tolist(),
    }


#: Why MAPE is missing from a split's metrics: a label of 0 has no relative error.
MAPE_UNDEFINED = "MAPE is not computed on {split}: {zeros} of its labels are 0 (no relative error there)"


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, float]:
    """RMSE, MAE, R2, median absolute error, and MAPE when no label is 0.

    MAPE is the mean of ``|error| / |label|`` (a share: 0.12 is 12%); a label of 0 would make it
    infinite, so it is left out then (:func:`regression_notes` says why). R2 needs two distinct
    labels: a split of one value has none.
    """
    y = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    error = pred - y
    out = {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(mean_absolute_error(y, pred)),
        "median_ae": float(median_absolute_error(y, pred)),
    }
    if len(y) >= 2 and np.ptp(y) > 0:
        out["r2"] = float(r2_score(y, pred))
    if len(y) and not (y == 0).any():
        out["mape"] = float(np.mean(np.abs(error) / np.abs(y)))
    return out


def regression_notes(y_true: Sequence[float], split: str) -> list[str]:
    """What :func:`regression_metrics` left out of a split, and why."""
    zeros = int((np.asarray(y_true, dtype=np.float64) == 0).sum())
    return [MAPE_UNDEFINED.format(split=split, zeros=zeros)] if zeros else []


def regression_report(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, Any]:
    """The label, the predictions and the errors in a few numbers, as JSON-ready data."""
    y = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    error = pred - y
    quantiles = (0.05, 0.25, 0.5, 0.75, 0.95)

    def summary(values: np.ndarray) -> dict[str, float]:
        if not len(values):
            return {}
        points = np.quantile(values, quantiles)
        return {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "min": float(values.min()),
            "max": float(values.max()),
            **{f"p{round(q * 100):02d}": float(v) for q, v in zip(quantiles, points, strict=True)},
        }

    return {
        "rows": len(y),
        "metrics": regression_metrics(y, pred) if len(y) else {},
        "label": summary(y),
        "prediction": summary(pred),
        "error": summary(error),
    }
