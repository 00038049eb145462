"""The plots logged with every model: right curves, honest labels, nothing outside the picture."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from bricksml.models import plots

SENTIMENT = ["negative", "neutral", "positive"]
LONG = [
    "customers who churned within the first quarter",
    "customers upgraded to the premium annual plan",
    "other",
]


def _scored(classes: list[str], rows: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities from a model that is good but not perfect."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, len(classes), rows)
    proba = rng.random((rows, len(classes)))
    proba[np.arange(rows), codes] += 0.7
    return np.asarray(classes)[codes], proba / proba.sum(axis=1, keepdims=True)


def _texts(fig: Figure) -> list[str]:
    """Every string drawn on the figure: titles, axis labels, tick labels, legends, annotations."""
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def _curves(fig: Figure) -> list[str]:
    """Labels of the plotted curves (the chance diagonal is unlabelled: '_chance')."""
    return [line.get_label() for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")]


def _legend(fig: Figure) -> list[str]:
    legend = fig.axes[0].get_legend() or (fig.legends[0] if fig.legends else None)
    return [t.get_text() for t in legend.get_texts()] if legend else []


def _assert_inside_canvas(fig: Figure) -> None:
    """Everything drawn, once laid out as savefig lays it out, lies within the saved picture."""
    fig.savefig(io.BytesIO(), format="png")
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    width, height = fig.get_size_inches()
    tolerance = 0.02  # inches
    assert box.x0 >= -tolerance and box.y0 >= -tolerance, (box, width, height)
    assert box.x1 <= width + tolerance and box.y1 <= height + tolerance, (box, width, height)


@pytest.mark.parametrize("kind", ["roc", "pr"])
def test_multiclass_curves_one_per_class_without_positive_label_text(kind: str) -> None:
    y, proba = _scored(SENTIMENT)
    fig = plots.curves_figure(y, proba, SENTIMENT, kind, "title")
    try:
        assert not [t for t in _texts(fig) if "Positive label" in t]
        assert [c.split(" (")[0] for c in _curves(fig)] == SENTIMENT
        assert _legend(fig) == _curves(fig)
        ax = fig.axes[0]
        expected = ("False positive rate", "True positive rate") if kind == "roc" else ("Recall", "Precision")
        assert (ax.get_xlabel(), ax.get_ylabel()) == expected
        assert ax.get_title() == "title"
        _assert_inside_canvas(fig)
    finally:
        plots.close(fig)


@pytest.mark.parametrize("kind", ["roc", "pr"])
def test_binary_task_draws_one_curve_for_the_positive_class(kind: str) -> None:
    classes = ["retained", "churned"]
    y, proba = _scored(classes)
    fig = plots.curves_figure(y, proba, classes, kind, "title")
    try:
        [curve] = _curves(fig)
        assert curve.startswith("positive class churned ("), curve
        assert _legend(fig) == [curve]
        assert not [t for t in _texts(fig) if "Positive label" in t]
        # The curve is the second class's: its area is the one scikit-learn computes for it.
        from sklearn.metrics import average_precision_score, roc_auc_score

        score = (roc_auc_score if kind == "roc" else average_precision_score)(y == "churned", proba[:, 1])
        assert f"{score:.3f}" in curve
    finally:
        plots.close(fig)


def test_a_class_without_rows_gets_no_curve_and_the_plot_says_when_none_can_be_drawn() -> None:
    y, proba = _scored(SENTIMENT)
    y = np.where(y == "neutral", "negative", y)
    fig = plots.curves_figure(y, proba, SENTIMENT, "roc", "t")
    assert [c.split(" (")[0] for c in _curves(fig)] == ["negative", "positive"]
    plots.close(fig)
    empty = plots.curves_figure(np.full(10, "negative"), proba[:10], SENTIMENT, "roc", "t")
    assert _curves(empty) == []
    assert any("no class has both" in t for t in _texts(empty))
    plots.close(empty)
    with pytest.raises(ValueError, match="kind"):
        plots.curves_figure(y, proba, SENTIMENT, "lift", "t")


def test_many_classes_put_the_legend_beside_the_plot_and_keep_it_inside() -> None:
    classes = [f"segment_{i:02d}_customers" for i in range(14)]
    y, proba = _scored(classes, rows=1400)
    fig = plots.curves_figure(y, proba, classes, "pr", "t")
    try:
        assert len(_legend(fig)) == 14
        styles = {(line.get_color(), line.get_linestyle()) for line in fig.axes[0].get_lines()}
        assert len(styles) == 14, "two classes share a line style"
        _assert_inside_canvas(fig)
    finally:
        plots.close(fig)


def test_confusion_matrix_counts_and_labels() -> None:
    y_true = ["a", "a", "b", "c", "c", "c"]
    y_pred = ["a", "b", "b", "c", "c", "a"]
    fig = plots.confusion_matrix_figure(y_true, y_pred, ["a", "b", "c"], "Confusion matrix (test)")
    try:
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("Predicted class", "True class")
        cells = [t.get_text() for t in ax.texts]
        assert cells == ["1", "1", "0", "0", "1", "0", "1", "0", "2"]  # rows: true a, b, c
        _assert_inside_canvas(fig)
    finally:
        plots.close(fig)


def test_confusion_matrix_keeps_long_class_names_whole_and_inside() -> None:
    y, proba = _scored(LONG)
    fig = plots.confusion_matrix_figure(y, np.asarray(LONG)[proba.argmax(axis=1)], LONG, "cm")
    try:
        ax = fig.axes[0]
        for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
            assert [" ".join(t.get_text().split()) for t in ticks] == LONG  # wrapped, not cut
        _assert_inside_canvas(fig)
    finally:
        plots.close(fig)


def test_confusion_matrix_with_many_long_names_stays_inside() -> None:
    classes = [f"a rather long customer segment name {i}" for i in range(12)]
    y, proba = _scored(classes, rows=1200)
    fig = plots.confusion_matrix_figure(y, np.asarray(classes)[proba.argmax(axis=1)], classes, "cm")
    try:
        labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
        assert all(len(label) <= plots.MAX_LABEL for label in labels)
        assert len(set(labels)) == 12
        _assert_inside_canvas(fig)
    finally:
        plots.close(fig)


# -- regression ---------------------------------------------------------------------------------


def _numbers(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.lognormal(3.0, 0.6, rows)
    return y, y * rng.lognormal(0.0, 0.2, rows)


@pytest.mark.parametrize("rows", [300, 20_000], ids=["dots", "hexagons"])
def test_predicted_vs_actual_shares_one_range_with_the_diagonal(rows: int) -> None:
    y, pred = _numbers(rows)
    fig = plots.predicted_vs_actual_figure(y, pred, "RaisedAmount", "Predicted vs actual (test)")
    try:
        ax = fig.axes[0]
        assert ax.get_xlim() == ax.get_ylim()
        low, high = ax.get_xlim()
        assert low < min(y.min(), pred.min()) and high > max(y.max(), pred.max())
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("Actual RaisedAmount", "Predicted RaisedAmount")
        assert _legend(fig) == ["prediction = actual"]
        drawn = ax.collections[0]
        assert len(drawn.get_offsets()) == (rows if rows <= 4000 else len(drawn.get_offsets()))
        assert (len(fig.axes) == 2) == (rows > 4000)  # the colour bar of the counts
        _assert_inside_canvas(fig)
    finally:
        plots.close(fig)


def test_residuals_centre_on_zero_and_a_few_huge_errors_do_not_squeeze_the_band() -> None:
    y, pred = _numbers(2000, seed=3)
    y[:3] = pred[:3] + 1e6  # three absurd labels
    fig = plots.residuals_figure(y, pred, "RaisedAmount", "Residuals (holdout)")
    try:
        ax, hist = fig.axes[:2]
        low, high = ax.get_ylim()
        assert low == -high and high < 1e5, (low, high)
        beyond = [t for t in _texts(fig) if t.endswith(" rows beyond the axis")]
        assert len(beyond) == 1 and 3 <= int(beyond[0].split()[0]) <= 20, beyond  # the 3, and a far tail
        assert ax.get_ylabel() == "Residual (actual - predicted)" and hist.get_xlabel() == "Rows"
        assert any(line.get_ydata()[0] == 0 for line in ax.get_lines())  # the zero line
        _assert_inside_canvas(fig)
    finally:
        plots.close(fig)
