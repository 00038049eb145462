"""How the gate tells a model from a guess, and a better model from noise.

Both questions are asked of predictions on the same rows of one split, of classes first and of
numbers (a regressor's RMSE, MAE, R2, ...) at the end of this module:

- :func:`baselines`: what trivial classifiers score there (always the train split's most frequent
  class; guessing at random with the train split's class shares), so that a minimum such as
  "macro-F1 0.5" cannot be met by a coin.
- :func:`paired_bootstrap`: the difference in a metric between two models, with an interval, from
  resampling the rows both models scored. The metrics here depend on the rows only through the
  counts of (true class, prediction of A, prediction of B) triples, so a resample of n rows is a
  multinomial draw over the few distinct triples: exact, and thousands of resamples of a
  million-row split cost milliseconds.
- :func:`regression_baselines` and :func:`regression_bootstrap`: the same two questions for a
  regressor, against the train labels' mean and median, by resampling rows (textbook bootstrap).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

METRICS = ("f1_macro", "f1_weighted", "accuracy")
RESAMPLES = 2000
_CHUNK = 250  # resamples drawn at a time: bounds the (resamples x triples) count matrix


@dataclass(frozen=True)
class Comparison:
    """Challenger minus champion on one metric: the observed difference and its interval."""

    metric: str
    difference: float
    low: float
    high: float
    confidence: float
    resamples: int
    rows: int
    method: str = "paired bootstrap"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("difference", "low", "high"):
            out[key] = round(out[key], 6)
        return out


def _codes(values: Sequence[Any], labels: list[Any]) -> np.ndarray:
    return pd.Index(labels).get_indexer(np.asarray(values))


def _metric(metric: str, hits: np.ndarray, true: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The metric per row of count tables (resamples x classes), over classes with support.

    ``hits``: rows of class k predicted as k; ``true``: rows of class k; ``predicted``: rows
    predicted as k. A class without rows in a resample is left out of that resample's average.
    """
    rows = true.sum(axis=1)
    if metric == "accuracy":
        return hits.sum(axis=1) / rows
    supported = true > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(supported, 2 * hits / (true + predicted), 0.0)
    if metric == "f1_weighted":
        return (f1 * true).sum(axis=1) / rows
    return f1.sum(axis=1) / supported.sum(axis=1)


def score(metric: str, y_true: Sequence[Any], y_pred: Sequence[Any], labels: Sequence[Any]) -> float:
    """The metric of one set of predictions, from the same counts the bootstrap resamples."""
    labels = _labels(labels, y_true, y_pred)
    truth, pred = _codes(y_true, labels), _codes(y_pred, labels)
    k = len(labels)
    true = np.bincount(truth, minlength=k)[None, :]
    predicted = np.bincount(pred, minlength=k)[None, :]
    hits = np.bincount(truth[truth == pred], minlength=k)[None, :]
    return float(_metric(_check(metric), hits, true, predicted)[0])


def baselines(
    metric: str, train_labels: Sequence[Any], y_true: Sequence[Any], labels: Sequence[Any]
) -> dict[str, float]:
    """What two trivial classifiers fitted on the train split's labels score on ``y_true``.

    ``most_frequent`` predicts the train split's commonest class for every row. ``stratified``
    guesses each row's class at random with the train split's shares q; its expected count
    tables (rows of class k: n p_k, predicted k: n q_k, hits: n p_k q_k) give the score without
    drawing any guess, so the baseline is the same number every time.
    """
    labels = _labels(labels, y_true, train_labels)
    k = len(labels)
    truth = _codes(y_true, labels)
    p = np.bincount(truth, minlength=k) / len(truth)
    train = pd.Series(np.asarray(train_labels)).value_counts()
    q = np.zeros(k)
    q[_codes(list(train.index), labels)] = train.to_numpy() / train.sum()
    most = np.zeros(k)
    most[_codes([train.index[0]], labels)[0]] = 1.0  # value_counts: commonest first
    out = {}
    for name, share in (("most_frequent", most), ("stratified", q)):
        hits, true, predicted = (p * share)[None, :], p[None, :], share[None, :]
        out[name] = float(_metric(_check(metric), hits, true, predicted)[0])
    return out


def paired_bootstrap(
    metric: str,
    y_true: Sequence[Any],
    pred_a: Sequence[Any],
    pred_b: Sequence[Any],
    labels: Sequence[Any],
    *,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """``metric(A) - metric(B)`` on the same rows, with a percentile interval from resampled rows."""
    labels = _labels(labels, y_true, pred_a, pred_b)
    k = len(labels)
    truth, a, b = _codes(y_true, labels), _codes(pred_a, labels), _codes(pred_b, labels)
    n = len(truth)
    triples, counts = np.unique((truth * k + a) * k + b, return_counts=True)
    t, ta, tb = triples // (k * k), (triples // k) % k, triples % k
    onehot = np.eye(k, dtype=np.int64)
    true_of = onehot[t]  # triples x classes
    pred_a_of, pred_b_of = onehot[ta], onehot[tb]
    hit_a_of, hit_b_of = true_of * (ta == t)[:, None], true_of * (tb == t)[:, None]

    def difference(draws: np.ndarray) -> np.ndarray:
        true = draws @ true_of
        return _metric(metric, draws @ hit_a_of, true, draws @ pred_a_of) - _metric(
            metric, draws @ hit_b_of, true, draws @ pred_b_of
        )

    observed = float(difference(counts[None, :])[0])
    rng = np.random.default_rng(seed)
    shares = counts / n
    diffs = np.concatenate(
        [
            difference(rng.multinomial(n, shares, size=min(_CHUNK, resamples - start)))
            for start in range(0, resamples, _CHUNK)
        ]
    )
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(diffs, [tail, 1.0 - tail])
    return Comparison(_check(metric), observed, float(low), float(high), confidence, resamples, n)


def _labels(labels: Sequence[Any], *columns: Sequence[Any]) -> list[Any]:
    """The given labels, then any value in the columns they miss (a label the model never saw)."""
    out = list(labels)
    known = set(out)
    for column in columns:
        extra = set(pd.unique(np.asarray(column)).tolist()) - known
        out += sorted(extra, key=str)
        known |= extra
    return out


def _check(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r} cannot be compared; one of {', '.join(METRICS)}")
    return metric


# -- regression ----------------------------------------------------------------------------------

REGRESSION_METRICS = ("rmse", "mae", "median_ae", "mape", "r2")
#: Resampled rows held at once by the regression bootstrap (resamples x rows), about 8 MB a copy.
_CELLS = 1_000_000


def regression_score(metric: str, y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """The metric of one set of predictions, as the bootstrap computes it."""
    y = np.asarray(y_true, dtype=np.float64)[None, :]
    return float(
        _regression(_check_regression(metric, y), y, np.asarray(y_pred, dtype=np.float64)[None, :])[0]
    )


def regression_baselines(
    metric: str, train_labels: Sequence[float], y_true: Sequence[float]
) -> dict[str, float]:
    """What two constant predictors fitted on the train split's labels score on ``y_true``.

    ``mean`` predicts the train labels' mean for every row (what R2 is measured against),
    ``median`` their median (the best constant for absolute errors).
    """
    train = np.asarray(train_labels, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.float64)
    return {
        name: regression_score(metric, y, np.full(len(y), value))
        for name, value in (("mean", float(np.mean(train))), ("median", float(np.median(train))))
    }


def regression_bootstrap(
    metric: str,
    y_true: Sequence[float],
    pred_a: Sequence[float],
    pred_b: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """``metric(A) - metric(B)`` on the same rows, with a percentile interval from resampled rows.

    Rows are drawn with replacement (the textbook bootstrap), a block of resamples at a time so
    that memory stays bounded whatever the split's size.
    """
    y = np.asarray(y_true, dtype=np.float64)
    a = np.asarray(pred_a, dtype=np.float64)
    b = np.asarray(pred_b, dtype=np.float64)
    _check_regression(metric, y[None, :])
    n = len(y)
    observed = float(
        _regression(metric, y[None, :], a[None, :])[0] - _regression(metric, y[None, :], b[None, :])[0]
    )
    rng = np.random.default_rng(seed)
    block = max(1, _CELLS // max(n, 1))
    diffs = []
    for start in range(0, resamples, block):
        rows = rng.integers(0, n, size=(min(block, resamples - start), n))
        truth = y[rows]
        diffs.append(_regression(metric, truth, a[rows]) - _regression(metric, truth, b[rows]))
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(np.concatenate(diffs), [tail, 1.0 - tail])
    return Comparison(metric, observed, float(low), float(high), confidence, resamples, n)


def _regression(metric: str, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The metric of each row of (resamples x rows) arrays of labels and predictions."""
    error = pred - y
    if metric == "rmse":
        return np.sqrt(np.mean(error**2, axis=1))
    if metric == "mae":
        return np.mean(np.abs(error), axis=1)
    if metric == "median_ae":
        return np.median(np.abs(error), axis=1)
    if metric == "mape":
        return np.mean(np.abs(error) / np.abs(y), axis=1)
    spread = np.sum((y - y.mean(axis=1, keepdims=True)) ** 2, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - np.sum(error**2, axis=1) / spread


def _check_regression(metric: str, y: np.ndarray) -> str:
    if metric not in REGRESSION_METRICS:
        raise ValueError(f"metric {metric!r} cannot be compared; one of {', '.join(REGRESSION_METRICS)}")
    if metric == "mape" and (y == 0).any():
        raise ValueError(f"MAPE cannot be compared: {int((y == 0).sum())} labels are 0; choose rmse or mae")
    return metric
