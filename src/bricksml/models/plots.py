"""The pictures a person looks at first: confusion matrix, ROC and precision-recall curves for a
classifier; predicted against actual values and the residuals for a regressor.

The curves are drawn from scikit-learn's curve functions rather than its Display classes: those
label the axes "(Positive label: 1)", which a one-vs-rest plot of named classes contradicts. Every
figure uses constrained layout, so long class names and legends stay inside the saved picture.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files, never a window; set before pyplot is imported

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

#: Characters of a class name shown on an axis or in a legend; the reports keep the full name.
MAX_LABEL = 28
#: Legend entries that fit inside the axes; more go beside them.
_LEGEND_INSIDE = 8
#: Classes up to which the confusion matrix prints its counts in the cells.
_ANNOTATED = 25
#: Classes up to which the confusion matrix wraps long names instead of cutting them.
_WRAPPED = 6
_WRAP_WIDTH = 18
CURVE_KINDS = ("roc", "pr")


def short_label(name: object, limit: int = MAX_LABEL) -> str:
    """A class name cut to ``limit`` characters, so that one long name cannot squeeze the plot.

    The cut is in the middle: names of one family often differ only at the end ("segment 1",
    "segment 2"), and both ends tell them apart.
    """
    text = str(name)
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 3
    return text[: limit - 1 - tail] + "\u2026" + text[len(text) - tail :]


def confusion_matrix_figure(
    y_true: Sequence[Any], y_pred: Sequence[Any], classes: Sequence[Any], title: str
) -> Figure:
    """Counts of true class (rows) against predicted class (columns), in the order of ``classes``.

    Up to ``_WRAPPED`` classes, a long name wraps onto up to three lines under its column and
    the figure widens to fit it; with more classes names are cut to ``MAX_LABEL`` characters and
    the column labels turn 45 degrees.
    """
    names = [str(c) for c in classes]
    matrix = confusion_matrix(np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str), labels=names)
    few = len(names) <= _WRAPPED
    if few:
        labels = [textwrap.fill(n, _WRAP_WIDTH, max_lines=3, placeholder="\u2026") or n for n in names]
        widest = max(len(line) for label in labels for line in label.splitlines())
        cell = max(0.9, 0.085 * widest)  # inches: the widest line fits under its column
        size = (cell * len(names) + 0.085 * widest + 1.2, cell * len(names) + 1.6)
    else:
        labels = [short_label(n) for n in names]
        margin = 0.07 * max(len(label) for label in labels)
        side = min(0.45 * len(names) + 2.0, 14.0)
        size = (side + margin, side + margin * 0.75)
    fig, ax = plt.subplots(figsize=size, dpi=100, layout="constrained")
    ConfusionMatrixDisplay(matrix, display_labels=labels).plot(
        ax=ax,
        colorbar=False,
        cmap="Blues",
        values_format="d",
        include_values=len(names) <= _ANNOTATED,
        text_kw={"fontsize": 10 if len(names) <= 10 else 7},
    )
    if not few:
        plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title(title)
    return fig


def curves_figure(
    y_true: Sequence[Any], proba: np.ndarray, classes: Sequence[Any], kind: str, title: str
) -> Figure:
    """ROC (kind='roc') or precision-recall (kind='pr') curves against the true labels.

    Several classes: one-vs-rest, one curve per class. Two classes: one curve, of the positive
    class, the second of ``classes`` (the column of ``predict_proba`` scikit-learn calls positive);
    the other class's curve would only mirror it.
    """
    if kind not in CURVE_KINDS:
        raise ValueError(f"kind must be one of {CURVE_KINDS}, got {kind!r}")
    names = [str(c) for c in classes]
    y = np.asarray(y_true).astype(str)
    proba = np.asarray(proba)
    binary = len(names) == 2
    shown = [(1, names[1])] if binary else list(enumerate(names))

    fig, ax = plt.subplots(figsize=(6.0, 5.0), dpi=100, layout="constrained")
    drawn = 0
    style = _styles(len(shown))
    for index, name in shown:
        positives = y == name
        if positives.all() or not positives.any():
            continue  # no curve without both positive and negative rows
        label = f"positive class {short_label(name)}" if binary else short_label(name)
        _draw_curve(ax, kind, positives, proba[:, index], label, **style(drawn))
        drawn += 1
    if kind == "roc":
        ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1, label="_chance")
        ax.set_xlabel("False positive rate")
        ax.set_ylabel("True positive rate")
    else:
        ax.set_xlabel("Recall")
        ax.set_ylabel("Precision")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    if drawn == 0:
        ax.text(0.5, 0.5, "no class has both positive and negative rows", ha="center", va="center")
    elif drawn <= _LEGEND_INSIDE:
        ax.legend(loc="lower right" if kind == "roc" else "lower left", fontsize="small")
    else:
        fig.set_size_inches(8.5, 5.0)
        fig.legend(loc="outside right upper", fontsize="small")
    return fig


def _styles(count: int) -> Callable[[int], dict[str, Any]]:
    """Line styles that stay apart: the default ten colours, else twenty and three dash patterns."""
    if count <= 10:
        return lambda i: {}
    colors = plt.get_cmap("tab20").colors
    dashes = ("-", "--", "-.")
    return lambda i: {"color": colors[i % 20], "linestyle": dashes[(i // 20) % 3]}


def _draw_curve(
    ax: Axes, kind: str, positives: np.ndarray, scores: np.ndarray, label: str, **style: Any
) -> None:
    if kind == "roc":
        fpr, tpr, _ = roc_curve(positives, scores)
        ax.plot(fpr, tpr, label=f"{label} (AUC {roc_auc_score(positives, scores):.3f})", **style)
    else:
        precision, recall, _ = precision_recall_curve(positives, scores)
        ap = average_precision_score(positives, scores)
        ax.plot(recall, precision, drawstyle="steps-post", label=f"{label} (AP {ap:.3f})", **style)


#: Points up to which a regression plot draws each row; beyond, hexagonal bins of counts.
_SCATTER_POINTS = 4000
#: Rows from which the residual axis leaves out the largest 0.5% of the errors.
_ROBUST_ROWS = 200


def predicted_vs_actual_figure(
    y_true: Sequence[float], y_pred: Sequence[float], label: str, title: str
) -> Figure:
    """Each row's prediction against its true value, with the line of perfect predictions.

    Both axes share one range, so distance from the diagonal is the error. Many rows are drawn
    as hexagonal bins of counts: a cloud of 100k points hides where most of them are.
    """
    y = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.0, 5.4), dpi=100, layout="constrained")
    low, high = _range(y, pred)
    _points(fig, ax, ax, y, pred, (low, high, low, high))
    ax.plot([low, high], [low, high], linestyle="--", color="black", linewidth=1, label="prediction = actual")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
    ax.set_xlabel(f"Actual {short_label(label)}")
    ax.set_ylabel(f"Predicted {short_label(label)}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title(title)
    return fig


def residuals_figure(y_true: Sequence[float], y_pred: Sequence[float], label: str, title: str) -> Figure:
    """Residuals (actual minus predicted) against the prediction, and their distribution.

    A good model leaves a band around zero without a shape: a funnel says the error grows with the
    value, a curve that a straight model misses a bend.
    """
    y = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    residual = y - pred
    fig, (ax, hist) = plt.subplots(
        1, 2, figsize=(8.5, 4.6), dpi=100, layout="constrained", gridspec_kw={"width_ratios": [3, 1]}
    )
    low, high = _range(pred)
    size = np.abs(residual[np.isfinite(residual)])
    # A few huge errors would squeeze the band that matters: the axis ends at the 99.5th
    # percentile of the errors (the plot says how many rows lie beyond), all of them when few.
    cut = float(np.quantile(size, 0.995) if len(size) >= _ROBUST_ROWS else size.max()) if len(size) else 1.0
    spread = cut * 1.1 or 1.0
    beyond = int((size > spread).sum())
    _points(fig, [ax, hist], ax, pred, residual, (low, high, -spread, spread))
    ax.axhline(0.0, linestyle="--", color="black", linewidth=1)
    ax.set_xlim(low, high)
    ax.set_ylim(-spread, spread)
    ax.set_xlabel(f"Predicted {short_label(label)}")
    ax.set_ylabel("Residual (actual - predicted)")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    if beyond:
        ax.text(0.01, 0.01, f"{beyond} rows beyond the axis", transform=ax.transAxes, fontsize="small")
    hist.hist(residual, bins=40, range=(-spread, spread), orientation="horizontal", color="tab:blue")
    hist.axhline(0.0, linestyle="--", color="black", linewidth=1)
    hist.set_ylim(-spread, spread)
    hist.set_xlabel("Rows")
    hist.tick_params(labelleft=False)
    hist.grid(alpha=0.3)
    return fig


def _range(*arrays: np.ndarray) -> tuple[float, float]:
    values = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.zeros(0)
    if not len(values):
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * 0.04 or max(abs(low) * 0.04, 0.5)
    return low - pad, high + pad


def _points(
    fig: Figure, beside: Axes | list[Axes], ax: Axes, x: np.ndarray, y: np.ndarray, extent: tuple[float, ...]
) -> None:
    """Each row as a dot, or many rows as hexagonal bins with a colour bar right of ``beside``."""
    if len(x) <= _SCATTER_POINTS:
        ax.scatter(x, y, s=9, alpha=0.45, color="tab:blue", edgecolors="none")
        return
    cells = ax.hexbin(x, y, gridsize=50, extent=extent, mincnt=1, bins="log", cmap="Blues")
    fig.colorbar(cells, ax=beside, label="rows (log scale)", shrink=0.8)


def close(fig: Figure) -> None:
    plt.close(fig)
