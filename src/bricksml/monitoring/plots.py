"""The pictures of a monitoring report, as PNG bytes: reference against window, and time.

Reference is always drawn in grey and the window in colour, on the same bins, as shares (not
counts): a window of a hundred rows and a reference of a hundred thousand compare at a glance.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files, never a window; set before pyplot is imported

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bricksml.models.plots import short_label

REFERENCE_COLOUR = "#9e9e9e"
WINDOW_COLOUR = "#1f77b4"
STATUS_COLOURS = {"warning": "#f0a202", "alert": "#d1495b"}
_DPI = 100
_HISTOGRAM_BINS = 30


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes; the figure is closed (pyplot keeps every open figure alive)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    plt.close(fig)
    return buffer.getvalue()


def shares_figure(labels: Sequence[str], reference: np.ndarray, current: np.ndarray, title: str) -> Figure:
    """Side-by-side bars of the share of each category (or class) in reference and window."""
    keep = [i for i in range(len(labels)) if reference[i] > 0 or current[i] > 0]
    names = [short_label(labels[i]) for i in keep]
    width = min(max(6.0, 0.55 * len(keep) + 2.0), 14.0)
    fig, ax = plt.subplots(figsize=(width, 4.2), layout="constrained")
    x = np.arange(len(keep))
    ax.bar(x - 0.2, reference[keep], 0.4, label="reference", color=REFERENCE_COLOUR)
    ax.bar(x + 0.2, current[keep], 0.4, label="window", color=WINDOW_COLOUR)
    ax.set_xticks(x, names, rotation=30 if len(keep) > 6 else 0, ha="right" if len(keep) > 6 else "center")
    ax.set_ylabel("share of rows")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title(title)
    ax.legend()
    return fig


def distribution_figure(reference: np.ndarray, current: np.ndarray, title: str, xlabel: str) -> Figure:
    """Step histograms of a numeric value in reference and window, on the same bins."""
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    _histograms(ax, reference, current)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return fig


def text_figure(
    column: str, reference: np.ndarray, current: np.ndarray, terms: list[tuple[str, float, float]]
) -> Figure:
    """A text column: its length in tokens, and the terms whose share of texts moved most."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained")
    _histograms(left, reference, current, integer=True)
    left.set_xlabel("tokens per text")
    left.set_title(f"{column}: length")
    if terms:
        names = [short_label(t, 24) for t, _, _ in terms][::-1]
        y = np.arange(len(terms))
        right.barh(y - 0.2, [a for _, a, _ in terms][::-1], 0.4, color=REFERENCE_COLOUR, label="reference")
        right.barh(y + 0.2, [b for _, _, b in terms][::-1], 0.4, color=WINDOW_COLOUR, label="window")
        right.set_yticks(y, names)
        right.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        right.set_xlabel("share of texts holding the term")
        right.legend(loc="lower right")
    right.set_title(f"{column}: terms that moved most")
    return fig


def history_figure(
    series: dict[str, list[tuple[Any, float]]], thresholds: dict[str, tuple[float, float]]
) -> Figure:
    """One panel per measurement over the windows so far, with its warning and alert lines."""
    fig, axes = plt.subplots(
        len(series), 1, figsize=(8, 2.8 * len(series)), layout="constrained", squeeze=False
    )
    for ax, (name, points) in zip(axes[:, 0], series.items(), strict=True):
        when = [p[0] for p in points]
        ax.plot(when, [p[1] for p in points], marker="o", color=WINDOW_COLOUR)
        warning, alert = thresholds[name]
        ax.axhline(warning, color=STATUS_COLOURS["warning"], linestyle="--", label=f"warning {warning:g}")
        ax.axhline(alert, color=STATUS_COLOURS["alert"], linestyle="--", label=f"alert {alert:g}")
        ax.set_title(name)
        ax.legend(loc="upper left", fontsize="small")
        ax.tick_params(axis="x", rotation=20)
    return fig


def _histograms(ax: Axes, reference: np.ndarray, current: np.ndarray, integer: bool = False) -> None:
    both = np.concatenate([reference, current]) if len(current) else reference
    both = both[np.isfinite(both)]
    if len(both) == 0:
        return
    low, high = np.quantile(both, [0.005, 0.995])  # a few outliers must not squeeze the picture
    if integer:
        bins: Any = np.arange(np.floor(low), np.ceil(high) + 2) - 0.5
    else:
        bins = np.linspace(low, high if high > low else low + 1, _HISTOGRAM_BINS + 1)
    for values, colour, label in (
        (reference, REFERENCE_COLOUR, "reference"),
        (current, WINDOW_COLOUR, "window"),
    ):
        if len(values):
            weights = np.full(len(values), 1 / len(values))
            ax.hist(
                np.clip(values, bins[0], bins[-1]),
                bins=bins,
                weights=weights,
                histtype="step",
                linewidth=2,
                color=colour,
                label=label,
            )
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylabel("share of rows")
    ax.legend()
