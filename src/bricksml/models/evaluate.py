"""Classification metrics from labels and predicted probabilities, named the way MLflow logs them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
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
    """Accuracy, macro/weighted precision-recall-F1, per-class F1, ROC-AUC (one-vs-rest), log loss."""
    y_true = np.asarray(y_true)
    classes = list(classes)
    y_pred = predictions(proba, classes)
    out: dict[str, float] = {"accuracy": accuracy_score(y_true, y_pred)}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=classes, average=average, zero_division=0
        )
        out[f"precision_{average}"] = p
        out[f"recall_{average}"] = r
        out[f"f1_{average}"] = f
    per_class = f1_score(y_true, y_pred, labels=classes, average=None, zero_division=0)
    for label, value in zip(classes, per_class, strict=True):
        out[f"f1_class_{metric_key(label)}"] = value
    present = [c for c in classes if c in set(y_true.tolist())]
    if len(present) >= 2:
        if len(classes) == 2:
            out["roc_auc_ovr"] = roc_auc_score(y_true == classes[1], proba[:, 1])
        elif len(present) == len(classes):
            out["roc_auc_ovr"] = roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
        out["log_loss"] = log_loss(y_true, np.clip(proba, 1e-15, 1), labels=classes)
    return {k: float(v) for k, v in out.items()}


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
