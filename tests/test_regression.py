"""Regression through every job, and text beside tabular columns in one model.

One module-wide store: the order reviews (a 1-5 score from an order's numbers and, for some, the
review's text) as a regression data version, a ridge model of it gated on RMSE and scored, and the
same rows as classes under task=auto for a text+tabular classifier.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from bricksml.cli.main import main
from bricksml.data import sample
from bricksml.errors import BricksmlError, DataError, ParameterError
from bricksml.jobs.inference import run_inference
from bricksml.jobs.train_models import train_models
from bricksml.jobs.validate_model import validate_model
from bricksml.models import compare, evaluate, labels
from bricksml.params import InferenceParams, TrainParams
from bricksml.tracking import registry
from tests.helpers import REVIEWS, make_version

ROWS = 600
MODEL = "main.bricksml.reviews_score"
CLASSES = "main.bricksml.reviews_classes"
DATA = Path("Volumes/main/bricksml/data")


@pytest.fixture(scope="module")
def store(workspace: Path) -> Iterator[dict]:
    """reviews/v1 (task=regression) with a ridge champion; reviews/v2 (task=auto: classes)."""
    frame = sample.order_reviews(ROWS, 4)
    made = make_version(workspace, "reviews", frame, REVIEWS, task="regression")
    auto = make_version(workspace, "reviews", frame, REVIEWS, data_version="v2")
    params = TrainParams.parse({"data_name": "reviews", "data_version": "v1", "model_name": MODEL})
    trained = train_models(params)
    gate = validate_model(params, trained.model_version)
    yield {"root": workspace, "made": made, "auto": auto, "params": params, "trained": trained, "gate": gate}


def _artifacts(run_id: str) -> set[str]:
    client = MlflowClient()

    def walk(path: str) -> set[str]:
        out: set[str] = set()
        for item in client.list_artifacts(run_id, path):
            out |= walk(item.path) if item.is_dir else {item.path}
        return out

    return walk("")


def _json_artifact(run_id: str, path: str) -> dict:
    return json.loads(
        Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path)).read_text()
    )


# -- create_data --------------------------------------------------------------------------------


def test_a_regression_version_says_its_task_bins_and_label_statistics(store: dict) -> None:
    manifest = store["made"].manifest
    assert manifest["task"] == "regression" and manifest["features"] == "text+tabular"
    assert manifest["task_choice"] == {
        "task": "regression",
        "asked": "regression",
        "reason": "asked for (task=regression)",
    }
    assert manifest["feature_columns"][0] == "review_comment_message"
    assert {"price", "delivery_delay_days", "payment_type"} <= set(manifest["feature_columns"])
    bins = manifest["label_bins"]
    assert bins["upper_bounds"] == sorted(bins["upper_bounds"]) and bins["upper_bounds"][-1] == 5.0
    assert sum(bins["rows"]) == manifest["quality"]["rows_out"]
    for split, counts in store["made"].labels.items():  # every bin reaches every split
        assert list(counts) == bins["names"] and all(counts.values()), (split, counts)
    stats = manifest["quality"]["label_stats"]
    assert (stats["min"], stats["max"], stats["non_numeric"], stats["distinct"]) == (1.0, 5.0, 0, 5)
    assert 3.5 < stats["mean"] < 4.5 and set(stats["quantiles"]) >= {"p05", "p50", "p95"}
    assert manifest["quality"]["class_counts"] == {}  # numbers are no classes
    # Most reviews have no comment: their rows are kept (the order's columns carry them).
    assert manifest["quality"]["empty_text"] == 0
    assert any(
        "have no text in 'review_comment_message': kept" in note for note in manifest["quality"]["notes"]
    )


def test_auto_takes_a_rating_of_five_values_as_classes_and_says_why(store: dict) -> None:
    manifest = store["auto"].manifest
    assert manifest["task"] == "classification" and "label_bins" not in manifest
    assert "5 distinct values (at most 20): classes; set task=regression" in manifest["task_choice"]["reason"]
    assert set(manifest["quality"]["class_counts"]) == {"1", "2", "3", "4", "5"}


def test_auto_picks_regression_for_a_quantity_and_refuses_a_quantity_with_text() -> None:
    amount = pd.Series(np.linspace(0, 100, 300))
    choice = labels.decide(amount, "auto", "amount")
    assert choice.task == "regression" and "300 distinct values (more than 20)" in choice.reason
    assert labels.decide(pd.Series(["a", "b"] * 20), "auto", "y").task == "classification"
    assert labels.decide(pd.Series([0, 1] * 20), "auto", "y").task == "classification"
    dirty = amount.astype(object)
    dirty[[4, 9]] = ["n.a.", "unknown"]
    with pytest.raises(DataError, match=r"holds numbers but for 2 non-numeric values \('n.a.' in row 5"):
        labels.decide(dirty, "auto", "amount")


def test_label_bins_hold_about_equal_rows_and_keep_a_value_whole() -> None:
    values = np.random.default_rng(1).normal(size=1000)
    bins = labels.bins(values, 0.1)
    assert len(bins.names) == 10 and min(bins.rows) >= 95 and sum(bins.rows) == 1000
    # Values up to each bound are in that bin or an earlier one.
    for code, bound in enumerate(bins.upper):
        assert values[bins.codes == code].max() == bound
    rating = np.repeat([1.0, 2.0, 3.0, 4.0, 5.0], [120, 30, 80, 190, 580])
    whole = labels.bins(rating, 0.1)
    for code in range(len(whole.names)):  # one value never straddles two bins
        assert not set(rating[whole.codes == code]) & set(rating[whole.codes != code])
    assert min(whole.rows) >= 20  # two rows of each bin for the 0.1 split at least
    small = labels.bins(np.arange(30.0), 0.1)
    assert min(small.rows) >= 20 and len(small.names) == 1


# -- train_models -------------------------------------------------------------------------------


def test_a_regression_run_logs_its_metrics_plots_and_task(store: dict) -> None:
    trained = store["trained"]
    assert trained.task == "regression" and trained.model_type == "ridge"  # the task's default type
    for split in ("train", "test", "holdout"):
        for metric in ("rmse", "mae", "r2", "median_ae", "mape"):
            assert f"{split}_{metric}" in trained.metrics, (split, metric)
    assert trained.metrics["test_r2"] > 0.3, trained.metrics
    run = MlflowClient().get_run(trained.run_id)
    assert run.data.tags["task"] == "regression" and run.data.params["task"] == "regression"
    assert run.data.params["model.alpha"] == "1.0"
    version = registry.version(MODEL, trained.model_version)
    assert version.tags["task"] == "regression"
    artifacts = _artifacts(trained.run_id)
    for path in (
        "plots/predicted_vs_actual_test.png",
        "plots/residuals_holdout.png",
        "reports/regression_report_test.json",
        "reports/model_explanation.json",
    ):
        assert path in artifacts, path
    report = _json_artifact(trained.run_id, "reports/regression_report_test.json")
    assert report["metrics"]["rmse"] == pytest.approx(trained.metrics["test_rmse"])
    assert report["error"]["p50"] == pytest.approx(report["error"]["p50"]) and report["notes"] == []
    explanation = _json_artifact(trained.run_id, "reports/model_explanation.json")
    assert explanation["kind"] == "strongest coefficients"
    assert all(weight > 0 for _, weight in explanation["raise the prediction"])
    assert all(weight < 0 for _, weight in explanation["lower the prediction"])


def test_one_pipeline_reads_the_text_next_to_the_scaled_and_encoded_columns(store: dict) -> None:
    pipeline = mlflow.sklearn.load_model(store["trained"].model_uri)
    transformers = {name: cols for name, _, cols in pipeline.named_steps["features"].transformers_}
    assert transformers["text"] == ["review_comment_message"]
    assert {"price", "freight_value", "delivery_delay_days"} <= set(transformers["numeric"])
    assert {"payment_type", "customer_state", "product_category"} <= set(transformers["categorical"])
    late = {"review_comment_message": "The order arrived 9 days late", "delivery_delay_days": 9.0}
    early = {"review_comment_message": "Great quality, I recommend it", "delivery_delay_days": -12.0}
    holdout = pd.read_parquet(store["root"] / DATA / "reviews/v1/holdout.parquet").head(1)
    rows = pd.concat([holdout.assign(**late), holdout.assign(**early)], ignore_index=True)
    low, high = pipeline.predict(rows[store["made"].manifest["feature_columns"]])
    assert low < high  # the text and the delay both move the score


def test_the_gate_compares_on_rmse_against_the_mean_predictor(store: dict) -> None:
    gate = store["gate"]
    assert (gate.metric, gate.direction, gate.task) == ("rmse", "lower", "regression")
    assert gate.decision == "promoted", gate.reason
    assert gate.challenger_score < gate.baseline["mean"] and gate.baseline["required"] == pytest.approx(
        min(gate.baseline["mean"], gate.baseline["median"]) * 0.95
    )
    assert "RMSE" in gate.reason and "mean of the train labels" in gate.reason
    record = json.loads(registry.version(MODEL, gate.model_version).tags["gate_record"])
    assert (record["metric"], record["direction"], record["task"]) == (
        "rmse",
        "lower is better",
        "regression",
    )
    assert "min_f1" not in record and record["max"] is None


def test_a_second_version_is_judged_by_a_paired_bootstrap_of_rmse(store: dict) -> None:
    params = TrainParams.parse(
        {
            "data_name": "reviews",
            "data_version": "v1",
            "model_name": MODEL,
            "model_params": '{"alpha": 5000}',  # far stronger shrinkage: a worse model
            "gate_max": "5",
        }
    )
    trained = train_models(params)
    gate = validate_model(params, trained.model_version)
    comparison = gate.comparison
    assert comparison["metric"] == "rmse" and comparison["verdict"] == "worse", comparison
    assert comparison["difference"] == pytest.approx(gate.challenger_score - gate.champion_score, abs=1e-6)
    assert comparison["low"] > 0  # its error is larger on every resample's interval
    assert not gate.promoted and registry.aliases(MODEL)["champion"] == store["gate"].model_version
    assert "<= maximum 5 (lower is better)" in gate.reason and "worse than champion v1" in gate.reason


def test_the_task_of_a_data_version_is_the_task_of_its_models(store: dict) -> None:
    with pytest.raises(ParameterError, match=r"'task' parameter .* must be regression or auto: data version"):
        train_models(
            TrainParams.parse({"data_name": "reviews", "data_version": "v1", "task": "classification"})
        )
    with pytest.raises(
        ParameterError, match=r"'model_type' parameter .* a model type with a regression model"
    ):
        train_models(
            TrainParams.parse({"data_name": "reviews", "data_version": "v1", "model_type": "naive_bayes"})
        )
    with pytest.raises(ParameterError, match=r"'gate_metric' parameter .* a regression metric \(rmse"):
        train_models(
            TrainParams.parse({"data_name": "reviews", "data_version": "v1", "gate_metric": "f1_macro"})
        )
    # A classifier never joins a model of regressors, whose champion it would be compared with.
    with pytest.raises(
        BricksmlError, match=r"holds regression versions \(v\d+\), this run trains classification"
    ):
        train_models(TrainParams.parse({"data_name": "reviews", "data_version": "v2", "model_name": MODEL}))


def test_a_text_and_tabular_classifier_trains_and_scores(store: dict) -> None:
    params = TrainParams.parse(
        {"data_name": "reviews", "data_version": "v2", "model_name": CLASSES, "gate_mode": "disabled"}
    )
    trained = train_models(params)
    assert trained.task == "classification" and trained.model_type == "logistic_regression"
    pipeline = mlflow.sklearn.load_model(trained.model_uri)
    assert {"text", "numeric", "categorical"} == {
        n for n, _, _ in pipeline.named_steps["features"].transformers_
    }
    holdout = pd.read_parquet(store["root"] / DATA / "reviews/v2/holdout.parquet")
    proba = pipeline.predict_proba(holdout[store["auto"].manifest["feature_columns"]])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert trained.metrics["holdout_accuracy"] > (holdout["review_score"] == 5).mean()
    assert registry.version(CLASSES, trained.model_version).tags["task"] == "classification"


def test_a_search_on_a_regression_ranks_trials_by_cross_validated_rmse(store: dict) -> None:
    search = {"model_params": {"alpha": [0.5, 5000.0]}, "folds": 2}
    params = TrainParams.parse(
        {
            "data_name": "reviews",
            "data_version": "v1",
            "model_name": "main.bricksml.reviews_search",
            "gate_mode": "disabled",
            "search": json.dumps(search),
        }
    )
    result = train_models(params)
    client = MlflowClient()
    children = client.search_runs(
        [client.get_run(result.run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'",
    )
    scores = {float(r.data.params["model.alpha"]): r.data.metrics["cv_rmse_mean"] for r in children}
    assert set(scores) == {0.5, 5000.0} and all(score > 0 for score in scores.values())  # an error, as it is
    assert result.best_trial["model_params"] == {"alpha": min(scores, key=scores.get)} == {"alpha": 0.5}
    assert client.get_run(result.run_id).data.metrics["search_best_cv_rmse"] == pytest.approx(scores[0.5])


# -- inference ----------------------------------------------------------------------------------


def test_inference_writes_a_number_and_the_metrics_when_labelled(store: dict) -> None:
    result = run_inference(
        InferenceParams.parse({"model_name": MODEL, "data_name": "reviews", "data_version": "v1"})
    )
    assert result.task == "regression" and result.prediction_counts == {}
    predictions = pd.read_parquet(Path(result.output_path) / "predictions.parquet")
    assert list(predictions.columns) == ["order_id", "prediction", "model_version", "scored_at"]
    assert predictions["prediction"].dtype == np.float64
    model = mlflow.sklearn.load_model(f"models:/{MODEL}/{store['gate'].model_version}")
    holdout = pd.read_parquet(store["root"] / DATA / "reviews/v1/holdout.parquet")
    expected = model.predict(holdout[store["made"].manifest["feature_columns"]])
    np.testing.assert_allclose(predictions["prediction"].to_numpy(), expected, rtol=1e-12)
    assert result.metrics["rmse"] == pytest.approx(store["trained"].metrics["holdout_rmse"])
    assert result.metrics["labelled_rows"] == len(holdout)
    assert result.prediction_stats["p05"] <= result.prediction_stats["p50"] <= result.prediction_stats["p95"]
    assert result.prediction_stats["mean"] == pytest.approx(expected.mean())
    metadata = json.loads((Path(result.output_path) / "metadata.json").read_text())
    assert (
        metadata["model"]["task"] == "regression" and metadata["prediction_stats"] == result.prediction_stats
    )
    run = MlflowClient().get_run(result.mlflow_run_id)
    assert run.data.metrics["inference_rmse"] == pytest.approx(result.metrics["rmse"])


def test_the_cli_says_what_a_regressor_predicted(store: dict, tmp_path: Path, capsys) -> None:
    rows = pd.read_parquet(store["root"] / DATA / "reviews/v1/test.parquet").drop(columns="review_score")
    rows.to_csv(tmp_path / "new_orders.csv", index=False)
    code = main(["infer", "--model-name", MODEL, "--input-path", str(tmp_path / "new_orders.csv")])
    out = capsys.readouterr().out
    assert code == 0
    assert "  predicted: mean " in out and "(5%-95%: " in out and "labels present" not in out


# -- metrics ------------------------------------------------------------------------------------


def test_regression_metrics_are_scikit_learn_s_and_mape_waits_for_nonzero_labels() -> None:
    from sklearn.metrics import mean_absolute_percentage_error, mean_squared_error, r2_score

    rng = np.random.default_rng(2)
    y = rng.uniform(1, 5, 400)
    pred = y + rng.normal(0, 0.5, 400)
    metrics = evaluate.regression_metrics(y, pred)
    assert metrics["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, pred)))
    assert metrics["r2"] == pytest.approx(r2_score(y, pred))
    assert metrics["mape"] == pytest.approx(mean_absolute_percentage_error(y, pred))
    y[3] = 0.0
    assert "mape" not in evaluate.regression_metrics(y, pred)
    assert evaluate.regression_notes(y, "test") == [
        "MAPE is not computed on test: 1 of its labels are 0 (no relative error there)"
    ]


def test_the_regression_bootstrap_agrees_with_the_textbook_one() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(10, 3, 500)
    a, b = y + rng.normal(0, 1.0, 500), y + rng.normal(0, 1.3, 500)
    result = compare.regression_bootstrap("rmse", y, a, b, confidence=0.9, resamples=400, seed=1)
    rmse = lambda p, rows: np.sqrt(np.mean((p[rows] - y[rows]) ** 2))  # noqa: E731
    everything = np.arange(500)
    assert result.difference == pytest.approx(rmse(a, everything) - rmse(b, everything))
    by_hand = [rmse(a, rows) - rmse(b, rows) for rows in (rng.integers(0, 500, 500) for _ in range(400))]
    low, high = np.quantile(by_hand, [0.05, 0.95])
    assert result.low == pytest.approx(low, abs=0.03) and result.high == pytest.approx(high, abs=0.03)
    baselines = compare.regression_baselines("mae", y[:300], y[300:])
    assert baselines["median"] == pytest.approx(np.mean(np.abs(y[300:] - np.median(y[:300]))))
    with pytest.raises(ValueError, match="MAPE cannot be compared: 1 labels are 0"):
        compare.regression_bootstrap("mape", np.r_[0.0, y[1:]], a, b)


@pytest.mark.parametrize("model_type", ["logistic_regression", "naive_bayes", "linear_svm", "ridge", "huber"])
def test_every_linear_type_explains_two_classes_and_a_number(model_type: str) -> None:
    from bricksml.models import explain
    from bricksml.models.pipeline import ModelSpec, build_pipeline

    frame = sample.campaign(400, 3)
    columns = ["GoalAmount", "NumBackers", "VideoIncluded", "Category"]
    for task, label in (("classification", "IsSuccessful"), ("regression", "GoalAmount")):
        if task == "regression" and model_type not in ("ridge", "huber"):
            continue
        used = [c for c in columns if c != label]
        pipeline = build_pipeline(ModelSpec(model_type, {}, {}, 0, task), frame, used, None)
        y = frame[label].astype(str) if task == "classification" else frame[label].astype(float)
        pipeline.fit(frame[used], y)
        found = explain.explain(pipeline, "coef")
        if task == "classification":
            assert set(found["classes"]) == {"0", "1"}, model_type
        else:
            assert found["kind"] == "strongest coefficients", model_type


# -- sample data ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "label", "check"),
    [
        ("customer_segments", "customer_segment", lambda y: 0 < (y == "low_value").mean() < 0.02),
        ("campaign", "IsSuccessful", lambda y: abs(y.mean() - 0.5) < 0.02),
        ("order_reviews", "review_score", lambda y: set(y) == {1, 2, 3, 4, 5} and (y == 5).mean() > 0.5),
    ],
)
def test_sample_data_of_each_seed_problem(tmp_path: Path, capsys, kind: str, label: str, check) -> None:
    out = tmp_path / f"{kind}.parquet"
    assert main(["sample-data", "--kind", kind, "--rows", "3000", "--out", str(out)]) == 0, (
        capsys.readouterr()
    )
    frame = pd.read_parquet(out)
    assert len(frame) == 3000 and check(frame[label]), frame[label].value_counts()
    assert frame[label].tolist() == sample.KINDS[kind](3000, 0)[label].tolist()  # deterministic by seed
    capsys.readouterr()
    assert main(["sample-data", "--kind", kind, "--drift", "label", "--out", str(out)]) == 2
    assert f"does not apply to {kind} data" in capsys.readouterr().err
