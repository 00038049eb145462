"""The model's answers in a window against its answers on the reference.

The reference answers are the model's predictions on the held-out split of its data version: on
its training rows a model is more confident than it will ever be on new rows, and a window of
perfectly ordinary data would look like a loss of confidence. A classifier's answers: the share of
each class (PSI over the classes) and the mean probability of the predicted class. A regressor's:
the distribution of the predicted values (PSI over the reference's deciles).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bricksml.monitoring import stats
from bricksml.monitoring.signals import Signal, Thresholds, signal

_UNKNOWN = "(other)"


@dataclass(frozen=True)
class PredictionProfile:
    """The reference's answers: class shares and mean confidence, or the predicted values."""

    regression: bool
    classes: list[str]
    shares: np.ndarray  # per class (and one for answers outside the classes); per bin for regression
    edges: np.ndarray  # regression: the deciles of the reference predictions
    values: np.ndarray  # regression: the reference predictions
    confidence: float | None


def profile(predictions: Any, confidence: np.ndarray | None, classes: list[str] | None) -> PredictionProfile:
    """The profile of the reference predictions; ``classes`` is None for a regressor."""
    if classes is None:
        values = np.asarray(predictions, dtype=np.float64)
        edges = stats.quantile_edges(values)
        return PredictionProfile(True, [], stats.bin_shares(values, edges), edges, values, None)
    shares = _class_shares(pd.Series(predictions), classes)
    mean = float(np.mean(confidence)) if confidence is not None and len(confidence) else None
    return PredictionProfile(False, classes, shares, np.array([]), np.array([]), mean)


def _class_shares(predictions: pd.Series, classes: list[str]) -> np.ndarray:
    """Share of each class, then of any other answer (counted before turning labels into text)."""
    counts = predictions.value_counts(dropna=False)
    counts.index = counts.index.astype(str)
    counts = counts.groupby(level=0).sum()
    known = np.array([counts.get(c, 0) for c in classes], dtype=np.float64)
    other = len(predictions) - known.sum()
    return np.append(known, other) / max(len(predictions), 1)


@dataclass
class PredictionDrift:
    signals: list[Signal]
    details: dict[str, Any]  # what the prediction plot draws


def compare(
    ref: PredictionProfile, predictions: pd.Series, confidence: np.ndarray | None, thresholds: Thresholds
) -> PredictionDrift:
    """The window's predictions (and, where known, confidences) against the reference's."""
    if ref.regression:
        values = pd.to_numeric(predictions, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        values = values[np.isfinite(values)]
        value = stats.psi(ref.shares, stats.bin_shares(values, ref.edges)) if len(values) else None
        shift = stats.wasserstein_in_std(ref.values, values) if len(values) else float("nan")
        reason = (
            f"predicted values: PSI {value:.3f} over the reference's deciles; mean "
            f"{np.mean(ref.values):.4g} -> {np.mean(values):.4g} (Wasserstein {shift:.3f} reference std)"
            if value is not None
            else "predicted values: none in the window"
        )
        details = {"regression": True, "reference": ref.values, "current": values}
        return PredictionDrift(
            [signal("prediction", "prediction", "psi", value, thresholds.psi, reason)], details
        )

    shares = _class_shares(predictions, ref.classes)
    value = stats.psi(ref.shares, shares)
    labels = [*ref.classes, _UNKNOWN]
    listed = ", ".join(
        f"{name} {a:.0%} -> {b:.0%}" for name, a, b in zip(labels, ref.shares, shares, strict=True) if a or b
    )
    out = [
        signal(
            "prediction",
            "prediction",
            "psi",
            value,
            thresholds.psi,
            f"predicted classes: PSI {value:.3f}; {listed}",
        )
    ]
    details: dict[str, Any] = {
        "regression": False,
        "labels": labels,
        "reference": ref.shares,
        "current": shares,
    }
    if ref.confidence is not None and confidence is not None and len(confidence):
        mean = float(np.mean(confidence))
        drop = ref.confidence - mean
        reason = (
            f"mean probability of the predicted class {mean:.3f} (reference {ref.confidence:.3f}, "
            f"{len(confidence)} rows with probabilities)"
        )
        out.append(
            signal("confidence", "prediction", "mean_confidence_drop", drop, thresholds.confidence, reason)
        )
        details["confidence"] = (ref.confidence, mean)
    return PredictionDrift(out, details)
