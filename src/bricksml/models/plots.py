"""The pictures a person looks at first: confusion matrix, ROC and precision-recall curves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files, never a window; set before pyplot is imported

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay


def confusion_matrix_figure(
    y_true: Sequence[Any], y_pred: Sequence[Any], classes: Sequence[Any], title: str
) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=100)
    ConfusionMatrixDisplay.from_predictions(
        np.asarray(y_true).astype(str),
        np.asarray(y_pred).astype(str),
        labels=[str(c) for c in classes],
        ax=ax,
        colorbar=False,
        cmap="Blues",
    )
    ax.set_title(title)
    fig.tight_layout()
    return fig


def curves_figure(
    y_true: Sequence[Any], proba: np.ndarray, classes: Sequence[Any], kind: str, title: str
) -> Figure:
    """One-vs-rest ROC (kind='roc') or precision-recall (kind='pr') curves, one line per class."""
    display = RocCurveDisplay if kind == "roc" else PrecisionRecallDisplay
    y_true = np.asarray(y_true)
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=100)
    for index, label in enumerate(classes):
        positives = y_true == label
        if positives.all() or not positives.any():
            continue
        display.from_predictions(positives, proba[:, index], name=str(label), ax=ax)
    if kind == "roc":
        ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)
