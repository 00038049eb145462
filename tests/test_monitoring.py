"""monitoring: windows of known drift flagged on the right signal, reference-like windows left alone."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bricksml import layout
from bricksml.data import sample
from bricksml.errors import BricksmlError
from bricksml.models.pipeline import ModelSpec, build_pipeline
from bricksml.monitoring import columns as C
from bricksml.monitoring import performance, predictions, requests, stats
from bricksml.monitoring.reference import Reference, scored
from bricksml.monitoring.signals import ALERT, OK, WARNING, Thresholds, decision, grade, reasons, signal
from bricksml.serving import request_log

TEXT = {"kind": "sentiment", "label": "Sentiment", "inputs": ["Sentence"], "text_col": "Sentence"}
TABULAR = {
    "kind": "customers",
    "label": "customer_segment",
    "inputs": [
        *("age", "gender", "region", "channel"),
        *("annual_income", "tenure_months", "purchases", "avg_basket"),
    ],
    "text_col": None,
}
WINDOW_ROWS = 500
# The fitted models are shared by the module's tests: one worker fits them once.
pytestmark = pytest.mark.xdist_group("monitoring")


def _fitted(spec: dict) -> dict:
    """A model fitted on 2400 rows, and the reference of its training and held-out rows."""
    data = sample.KINDS[spec["kind"]](3000, 1)
    train, heldout = data.iloc[:2400], data.iloc[2400:]
    spec_of_model = ModelSpec("logistic_regression", {}, {}, 0)
    model = build_pipeline(spec_of_model, train, spec["inputs"], spec["text_col"])
    model.fit(train[spec["inputs"]], train[spec["label"]].astype(str))
    reference = Reference.build(model, spec["inputs"], train, heldout, spec["text_col"], regression=False)
    return {**spec, "model": model, "reference": reference}


@pytest.fixture(scope="module")
def text() -> dict:
    return _fitted(TEXT)


@pytest.fixture(scope="module")
def tabular() -> dict:
    return _fitted(TABULAR)


def _judge(fitted: dict, frame: pd.DataFrame):
    window = scored(fitted["model"], frame, fitted["inputs"], regression=False)
    return fitted["reference"].judge(window, Thresholds())


def _flagged(signals) -> dict[tuple[str, str], str]:
    return {(s.name, s.metric): s.status for s in signals if s.status != OK}


@pytest.mark.parametrize("which", ["text", "tabular"])
def test_twenty_windows_drawn_like_the_reference_raise_nothing(which: str, request) -> None:
    fitted = request.getfixturevalue(which)
    for seed in range(1000, 1020):
        frame = sample.KINDS[fitted["kind"]](WINDOW_ROWS, seed)
        judged = _judge(fitted, frame)
        assert decision(judged.signals) != ALERT, _flagged(judged.signals)
        # Effect sizes, not p-values: ordinary windows stay below even the warning thresholds.
        assert _flagged(judged.signals) == {}, f"window seed {seed}"
        psi = [s.value for s in judged.signals if s.metric == "psi"]
        assert psi and max(psi) < 0.08


@pytest.mark.parametrize(
    ("which", "drift", "expected"),
    [
        ("tabular", "numeric", ("annual_income", "psi")),
        ("tabular", "category", ("channel", "psi")),
        ("tabular", "label", ("prediction", "psi")),
        ("text", "vocabulary", ("Sentence", "oov_share_increase")),
        ("text", "label", ("prediction", "psi")),
    ],
)
def test_a_drifted_window_is_flagged_on_the_signal_of_its_drift(
    which: str, drift: str, expected: tuple[str, str], request
) -> None:
    fitted = request.getfixturevalue(which)
    judged = _judge(fitted, sample.KINDS[fitted["kind"]](WINDOW_ROWS, 77, drift))
    flagged = _flagged(judged.signals)
    assert flagged.get(expected) == ALERT, flagged
    assert decision(judged.signals) == ALERT
    if drift in ("numeric", "category"):  # one column moved: no other column is judged drifted
        features = {name for (name, _), status in flagged.items() if name in fitted["inputs"]}
        assert features == {expected[0]}


def test_the_terms_that_moved_are_the_new_vocabulary(text: dict) -> None:
    judged = _judge(text, sample.sentiment(WINDOW_ROWS, 77, "vocabulary=0.6"))
    terms = [term for term, before, after in judged.features.details["Sentence"]["terms"] if after > before]
    new_words = {w.lower() for event in sample.NEW_EVENTS.values() for e in event for w in e.split()}
    new_words |= {w.lower() for w in sample.NEW_ASSETS + sample.NEW_VENUES}
    assert terms and set(terms) <= new_words, terms


def test_missing_values_and_unseen_categories_are_flagged_on_their_column(tabular: dict) -> None:
    frame = sample.customers(WINDOW_ROWS, 78)
    frame.loc[frame.index[: WINDOW_ROWS // 3], "age"] = np.nan
    frame.loc[frame.index[-WINDOW_ROWS // 10 :], "region"] = "central"
    flagged = _flagged(_judge(tabular, frame).signals)
    assert flagged[("age", "missing_share_increase")] == ALERT
    assert flagged[("region", "new_category_share")] == ALERT
    assert ("gender", "new_category_share") not in flagged


def test_a_regressor_s_predictions_are_judged_by_their_distribution() -> None:
    rng = np.random.default_rng(0)
    reference = predictions.profile(rng.normal(50, 10, 5000), None, None)
    same = predictions.compare(reference, pd.Series(rng.normal(50, 10, 800)), None, Thresholds())
    moved = predictions.compare(reference, pd.Series(rng.normal(62, 10, 800)), None, Thresholds())
    assert [s.status for s in same.signals] == [OK]
    assert [(s.name, s.metric, s.status) for s in moved.signals] == [("prediction", "psi", ALERT)]
    assert "Wasserstein 1.2" in moved.signals[0].reason  # a 12-point shift is 1.2 reference std


def test_the_statistics_are_effect_sizes() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, 20000)
    assert stats.numeric_psi(base, base) == pytest.approx(0.0)
    assert stats.numeric_psi(base, rng.normal(0, 1, 200_000)) < 0.01  # many rows, same distribution
    assert stats.wasserstein_in_std(base, base + 0.5) == pytest.approx(0.5, abs=0.02)
    assert stats.ks_statistic(base, base + 100) == pytest.approx(1.0)
    assert stats.jensen_shannon(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == pytest.approx(0.0)
    assert stats.jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    # An empty bin on one side gives a large but finite PSI.
    assert 1 < stats.psi(np.array([0.5, 0.5, 0.0]), np.array([0.4, 0.4, 0.2])) < 10


def test_grades_decision_and_reasons() -> None:
    assert [grade(v, 0.1, 0.25) for v in (0.05, 0.1, 0.3, None)] == [OK, WARNING, ALERT, OK]
    assert [grade(v, 100, 0, lower_is_worse=True) for v in (500, 99, 0)] == [OK, WARNING, ALERT]
    signals = [
        signal("a", "feature", "psi", 0.3, (0.1, 0.25), "a moved"),
        signal("b", "volume", "rows", 50.0, (100, 0), "few rows", lower_is_worse=True),
        signal("c", "feature", "psi", 0.0, (0.1, 0.25), "c stayed"),
    ]
    assert decision(signals) == ALERT
    assert reasons(signals) == ["alert: a moved", "warning: few rows"]
    assert reasons(signals[2:]) == ["all 1 signals are within their thresholds"]


def test_a_drop_is_absolute_for_scores_and_relative_for_errors() -> None:
    assert performance.drop("f1_macro", 0.9, 0.8) == pytest.approx(0.1)
    assert performance.drop("f1_macro", 0.8, 0.9) == pytest.approx(-0.1)
    assert performance.drop("rmse", 10.0, 12.0) == pytest.approx(0.2)
    assert performance.score("f1_macro", ["a", "b", "a"], ["a", "b", "b"]) == pytest.approx(2 / 3)
    assert performance.score("rmse", [1, 2, 3], [1, 2, 5]) == pytest.approx(np.sqrt(4 / 3))


def test_the_drift_option_names_what_a_kind_takes() -> None:
    assert sample.sentiment(50, 3, None).equals(sample.sentiment(50, 3))
    assert not sample.customers(50, 3, "numeric=0.2").equals(sample.customers(50, 3))
    with pytest.raises(BricksmlError, match="drift 'numeric' does not apply to sentiment data; it takes"):
        sample.sentiment(10, 0, "numeric")
    with pytest.raises(BricksmlError, match=r"label=1\.5: the strength is above 0 and at most 1"):
        sample.customers(10, 0, "label=1.5")


def _logged(rows: list[dict], table: str) -> None:
    folder = layout.local_table_dir(table)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=request_log.SCHEMA), folder / "part-0.parquet")


def _row(when: dt.datetime, status: int, request: object, response: object, version: str = "3") -> dict:
    return {
        "request_date": when.date(),
        "databricks_request_id": f"r{when.timestamp()}",
        "request_time": when,
        "status_code": status,
        "sampling_fraction": 1.0,
        "execution_duration_ms": 3,
        "request": json.dumps(request),
        "response": json.dumps(response),
        "logging_error_codes": [],
        "served_model_name": "main.s.m",
        "served_model_version": version,
    }


def test_the_request_log_gives_rows_of_every_format_and_the_failed_share(local_workspace: Path) -> None:
    start = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)
    at = [start + dt.timedelta(minutes=m) for m in range(8)]
    probabilities = [{"pos": 0.9, "neg": 0.1}, {"pos": 0.3, "neg": 0.7}]
    answer = {"predictions": ["pos", "neg"], "probabilities": probabilities}
    split = {"dataframe_split": {"columns": ["t", "x"], "data": [["a", 1], ["b", 2]]}}
    one = {"predictions": ["pos"]}
    _logged(
        [
            _row(at[0], 200, split, answer),
            _row(at[1], 200, {"dataframe_records": [{"t": "c", "x": 3}]}, one),
            _row(at[2], 200, {"instances": [{"t": "d", "x": 4}]}, one),
            _row(at[3], 200, {"inputs": {"t": ["e"], "x": [5]}}, one),
            _row(at[4], 400, {"inputs": {"x": [5]}}, {"error_code": "BAD_REQUEST", "message": "no t"}),
            _row(at[5], 200, {"inputs": {"t": ["f"], "x": [6]}}, one, version="2"),  # another version
            _row(at[7], 200, {"inputs": {"t": ["g"], "x": [7]}}, one),  # after the window
        ],
        "main.s.m_payload",
    )
    found = requests.read("main.s.m_payload", start, at[6], "main.s.m", "3", ["t", "x"])
    assert (found.requests, found.failed) == (5, 1)
    assert found.frame["t"].tolist() == ["a", "b", "c", "d", "e"]
    assert found.frame[C.PREDICTION].tolist() == ["pos", "neg", "pos", "pos", "pos"]
    assert found.frame[C.CONFIDENCE].iloc[:2].tolist() == [0.9, 0.7]
    assert found.frame[C.CONFIDENCE].iloc[2:].isna().all()
