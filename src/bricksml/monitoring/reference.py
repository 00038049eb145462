"""The reference a window is judged against, and the judgement: pure functions of frames and a model.

Built once per run from the version's training split (the inputs) and its held-out split (the
model's own answers on rows it never saw); :meth:`Reference.judge` then grades any window frame.
No file, no MLflow: the statistics can be tried on frames in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bricksml.monitoring import columns as C
from bricksml.monitoring import features, predictions
from bricksml.monitoring.features import FeatureDrift
from bricksml.monitoring.predictions import PredictionDrift
from bricksml.monitoring.signals import Signal, Thresholds


def predict(model: Any, frame: pd.DataFrame, regression: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's predictions and, for a classifier, the probability of the predicted class."""
    if regression:
        return np.asarray(model.predict(frame), dtype=np.float64), None
    proba = model.predict_proba(frame)
    classes = np.asarray([str(c) for c in model.classes_], dtype=object)
    return classes[proba.argmax(axis=1)], proba.max(axis=1)


def scored(model: Any, frame: pd.DataFrame, inputs: list[str], regression: bool) -> pd.DataFrame:
    """Rows with their inputs as a window frame: the model's predictions beside them."""
    out = frame[inputs].reset_index(drop=True).copy()
    predicted, confidence = predict(model, out, regression)
    out[C.PREDICTION] = predicted
    out[C.CONFIDENCE] = np.nan if confidence is None else confidence
    out[C.HAS_INPUTS] = True
    return out


@dataclass
class Judgement:
    signals: list[Signal]
    features: FeatureDrift
    predictions: PredictionDrift


@dataclass(frozen=True)
class Reference:
    """Profiles of the reference's inputs and of the model's answers on held-out rows."""

    kinds: features.ColumnKinds
    profiles: dict[str, features.Profile]
    answers: predictions.PredictionProfile
    seed: int

    @classmethod
    def build(
        cls,
        model: Any,
        inputs: list[str],
        train: pd.DataFrame,
        heldout: pd.DataFrame,
        text_col: str | None,
        regression: bool,
        seed: int = 0,
    ) -> Reference:
        kinds = features.column_kinds(model, inputs, train, text_col)
        profiles = features.profile(kinds, train, heldout, seed)
        answers, confidence = predict(model, heldout[inputs], regression)
        classes = None if regression else [str(c) for c in model.classes_]
        return cls(kinds, profiles, predictions.profile(answers, confidence, classes), seed)

    def judge(self, frame: pd.DataFrame, thresholds: Thresholds) -> Judgement:
        """The feature signals (rows whose inputs are known) and the prediction signals (all rows)."""
        known = frame[C.HAS_INPUTS].astype(bool)
        with_inputs = frame if known.all() else frame[known]
        drift = features.compare(self.kinds, self.profiles, with_inputs, thresholds, self.seed)
        if len(with_inputs) == 0:
            drift = FeatureDrift([], {})
        confidence = frame[C.CONFIDENCE].to_numpy(dtype=np.float64, na_value=np.nan)
        known = confidence[np.isfinite(confidence)]
        answers = predictions.compare(
            self.answers, frame[C.PREDICTION], known if len(known) else None, thresholds
        )
        return Judgement(drift.signals + answers.signals, drift, answers)
