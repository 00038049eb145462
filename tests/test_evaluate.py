"""Classification metrics: the memory-lean ROC-AUC and log loss give scikit-learn's own numbers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from bricksml.models import evaluate


def _scored(rows: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, classes, rows)
    proba = rng.random((rows, classes)) ** 3
    proba /= proba.sum(axis=1, keepdims=True)
    proba[0] = 0.0
    proba[0, (codes[0] + 1) % classes] = 1.0  # certain and wrong: only the clip keeps it finite
    return codes, proba


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_roc_auc_and_log_loss_equal_scikit_learn(classes: int) -> None:
    codes, proba = _scored(2000, classes, seed=classes)
    names = np.array([f"class {k}" for k in range(classes)])
    expected_auc = (
        roc_auc_score(codes == 1, proba[:, 1])
        if classes == 2
        else roc_auc_score(codes, proba, multi_class="ovr", labels=list(range(classes)))
    )
    expected_loss = log_loss(codes, np.clip(proba, 1e-15, 1), labels=list(range(classes)))

    for labels, y_true in ((list(range(classes)), codes), (list(names), names[codes])):
        metrics = evaluate.classification_metrics(y_true, proba, labels)
        assert metrics["roc_auc_ovr"] == pytest.approx(expected_auc, abs=1e-12)
        assert metrics["log_loss"] == pytest.approx(expected_loss, abs=1e-12)
        assert np.isfinite(metrics["log_loss"])


def test_a_class_absent_from_the_labels_skips_the_multiclass_auc_only() -> None:
    codes, proba = _scored(600, 3, seed=9)
    codes[codes == 2] = 0
    metrics = evaluate.classification_metrics(codes, proba, [0, 1, 2])
    assert "roc_auc_ovr" not in metrics
    assert metrics["log_loss"] == pytest.approx(log_loss(codes, np.clip(proba, 1e-15, 1), labels=[0, 1, 2]))


def test_a_label_the_model_does_not_know_skips_probability_metrics() -> None:
    codes, proba = _scored(300, 3, seed=4)
    names = np.array(["negative", "neutral", "positive"])[codes].astype(object)
    names[5] = "surprise"
    metrics = evaluate.classification_metrics(names, proba, ["negative", "neutral", "positive"])
    assert "roc_auc_ovr" not in metrics and "log_loss" not in metrics
    assert 0.0 <= metrics["accuracy"] <= 1.0
