"""train_models: every model type on text and tabular data, tracking, lineage, the gate, the search."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from bricksml.cli.main import main
from bricksml.data import sample
from bricksml.errors import ParameterError, RegistryError
from bricksml.jobs.train_models import train_models
from bricksml.jobs.validate_model import validate_model
from bricksml.models.types import MODEL_TYPES
from bricksml.params import TrainParams
from bricksml.tracking import registry
from tests.helpers import CUSTOMERS, SENTIMENT, make_version

# Small but real: fast estimators settings so that the whole matrix stays quick.
FAST = {
    "random_forest": {"n_estimators": 25},
    "gradient_boosting": {"max_iter": 25},
}
FAST_FEATURES = {"gradient_boosting": {"svd_components": 40}}


@pytest.fixture(scope="module")
def store(workspace: Path) -> Iterator[Path]:
    """A local workspace mirror with one text and one tabular data version, and its own MLflow."""
    root = workspace
    make_version(root, "fs", sample.sentiment(1200, 3), SENTIMENT)
    make_version(root, "cu", sample.customers(1200, 3), CUSTOMERS)
    yield root


def _params(data: str, **extra: object) -> TrainParams:
    return TrainParams.parse({"data_name": data, "data_version": "v1", "gate_mode": "disabled", **extra})


def _holdout(store: Path, data: str) -> pd.DataFrame:
    return pd.read_parquet(store / "Volumes/main/bricksml/data" / data / "v1" / "holdout.parquet")


@pytest.mark.parametrize("data", ["fs", "cu"])
@pytest.mark.parametrize("model_type", sorted(MODEL_TYPES))
def test_every_model_type_trains_registers_and_predicts_from_raw_columns(
    store: Path, data: str, model_type: str, tmp_path: Path
) -> None:
    params = _params(
        data,
        model_type=model_type,
        model_name=f"main.bricksml.{data}_{model_type}",
        model_params=FAST.get(model_type, {}),
        feature_params=FAST_FEATURES.get(model_type, {}) if data == "fs" else {},
    )
    result = train_models(params)

    assert result.model_version == "1"
    version = registry.version(params.registered_model_name, "1")
    assert version.run_id == result.run_id
    info = mlflow.models.get_model_info(result.model_uri)
    assert info.signature is not None and info.signature.inputs is not None
    for split in ("train", "test", "holdout"):
        for metric in ("accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro", "log_loss"):
            assert 0.0 <= result.metrics[f"{split}_{metric}"] <= (100.0 if metric == "log_loss" else 1.0)
    assert result.metrics["test_roc_auc_ovr"] > 0.5

    holdout = _holdout(store, data)
    features = holdout.drop(columns=[c for c in ("Sentiment", "customer_segment") if c in holdout])
    sk_model = mlflow.sklearn.load_model(result.model_uri)
    proba = sk_model.predict_proba(features)
    assert proba.shape == (len(holdout), len(sk_model.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # Serving sees a DataFrame of raw columns (extra columns included, in another order).
    pyfunc = mlflow.pyfunc.load_model(result.model_uri)
    shuffled = features[list(reversed(features.columns))]
    served = np.asarray(pyfunc.predict(shuffled))
    assert served.tolist() == sk_model.predict(features).tolist()
    assert set(served) <= set(sk_model.classes_)
    # The input example as Model Serving receives it (JSON), through MLflow's own scoring path.
    local = Path(mlflow.artifacts.download_artifacts(result.model_uri))
    example = mlflow.models.Model.load(local).load_input_example(local)
    out = tmp_path / "predictions.json"
    mlflow.models.predict(
        model_uri=str(local),
        input_path=str(local / "serving_input_example.json"),
        content_type="json",
        env_manager="local",
        output_path=str(out),
    )
    assert json.loads(out.read_text())["predictions"] == sk_model.predict(example).tolist()


def test_text_model_learns_the_sentiment(store: Path) -> None:
    result = train_models(_params("fs", model_name="main.bricksml.fs_quality"))
    assert result.metrics["test_f1_macro"] > 0.8
    assert result.metrics["holdout_f1_macro"] > 0.8


def test_tabular_columns_are_typed_from_the_data(store: Path) -> None:
    result = train_models(_params("cu", model_name="main.bricksml.cu_columns"))
    pipeline = mlflow.sklearn.load_model(result.model_uri)
    transformers = {name: cols for name, _, cols in pipeline.named_steps["features"].transformers_}
    assert set(transformers["numeric"]) == {
        "age",
        "annual_income",
        "tenure_months",
        "purchases",
        "avg_basket",
    }
    assert set(transformers["categorical"]) == {"gender", "region", "channel"}
    assert "customer_id" not in transformers["numeric"] + transformers["categorical"]


def test_null_text_scores_as_empty_text(store: Path) -> None:
    result = train_models(_params("fs", model_name="main.bricksml.fs_nulls"))
    model = mlflow.sklearn.load_model(result.model_uri)
    frame = pd.DataFrame({"Sentence": ["Operating profit rose sharply", None, ""]})
    proba = model.predict_proba(frame)
    np.testing.assert_allclose(proba[1], proba[2])


def test_run_records_params_metrics_tags_artifacts_and_lineage(store: Path) -> None:
    params = _params("fs", model_name="main.bricksml.fs_lineage", model_params={"C": 2.0})
    result = train_models(params)
    client = MlflowClient()
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model_type"] == "logistic_regression"
    assert run.data.params["model.C"] == "2.0"
    assert run.data.params["features.ngram_range"] == "[1, 2]"
    assert run.data.params["seed"] == "42"
    assert {"test_f1_macro", "holdout_roc_auc_ovr", "fit_seconds", "predict_seconds"} <= set(run.data.metrics)
    assert any(k.startswith("test_f1_class_") for k in run.data.metrics)
    manifest = json.loads((store / "Volumes/main/bricksml/data/fs/v1/manifest.json").read_text())
    assert run.data.tags["data_name"] == "fs"
    assert run.data.tags["data_version"] == "v1"
    assert run.data.tags["data_digest"] == manifest["content_digest"]
    assert run.data.tags["bundle_target"] == "local"
    assert run.data.tags["bricksml_version"]

    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"fs/v1/train", "fs/v1/test", "fs/v1/holdout"}
    train_input = inputs["fs/v1/train"]
    assert train_input.dataset.digest == manifest["splits"]["train"]["sha256"][:32]
    assert "train.parquet" in train_input.dataset.source
    assert {t.value for t in train_input.tags if t.key == "mlflow.data.context"} == {"training"}

    artifacts = _artifact_paths(client, result.run_id)
    for path in (
        "plots/confusion_matrix_test.png",
        "plots/roc_holdout.png",
        "plots/precision_recall_test.png",
        "reports/classification_report_test.json",
        "reports/model_explanation.json",
        "data/manifest.json",
    ):
        assert path in artifacts
    explanation = json.loads(
        Path(
            mlflow.artifacts.download_artifacts(
                run_id=result.run_id, artifact_path="reports/model_explanation.json"
            )
        ).read_text()
    )
    assert set(explanation["classes"]) == {"negative", "neutral", "positive"}

    version = registry.version(params.registered_model_name, result.model_version)
    assert version.tags["data_digest"] == manifest["content_digest"]
    assert version.tags["data_version"] == "v1"
    assert version.tags["model_type"] == "logistic_regression"
    # The metrics belong to the logged model too, so its page in MLflow shows them.
    (output,) = run.outputs.model_outputs
    assert version.source == f"models:/{output.model_id}"
    logged = mlflow.get_logged_model(output.model_id)
    by_key = {m.key: m.value for m in logged.metrics}
    assert by_key["test_f1_macro"] == pytest.approx(result.metrics["test_f1_macro"])
    assert {"holdout_accuracy", "train_log_loss"} <= set(by_key)


def _artifact_paths(client: MlflowClient, run_id: str, path: str = "") -> set[str]:
    out = set()
    for item in client.list_artifacts(run_id, path):
        out |= _artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return out


def test_logged_model_has_pinned_requirements_and_safe_format(store: Path) -> None:
    result = train_models(_params("fs", model_name="main.bricksml.fs_format"))
    local = Path(mlflow.artifacts.download_artifacts(result.model_uri))
    requirements = (local / "requirements.txt").read_text().split()
    assert all("==" in r for r in requirements)
    assert any(r.startswith("scikit-learn==") for r in requirements)
    mlmodel = (local / "MLmodel").read_text()
    assert "serialization_format: skops" in mlmodel
    assert (local / "input_example.json").exists()


@pytest.mark.parametrize(
    ("raw", "name", "fragment"),
    [
        ({"model_type": "svm"}, "model_type", "logistic_regression"),
        ({"model_params": "{not json"}, "model_params", "JSON object"),
        ({"model_params": '{"foo": 1}'}, "model_params", "unknown parameter 'foo'"),
        ({"model_params": '{"C": "big"}'}, "model_params", "'C' parameter of LogisticRegression"),
        (
            {"model_type": "random_forest", "model_params": '{"n_estimators": 0}'},
            "model_params",
            "random_forest",
        ),
        ({"feature_params": '{"ngrams": [1, 2]}'}, "feature_params", "unknown feature parameter 'ngrams'"),
        ({"feature_params": '{"ngram_range": [2, 1]}'}, "feature_params", "ngram_range"),
        ({"model_name": "just_a_name"}, "model_name", "three-level"),
        ({"gate_mode": "on"}, "gate_mode", "dry_run"),
        ({"gate_min_f1": "1.5"}, "gate_min_f1", "between 0 and 1"),
        ({"gate_confidence": "1"}, "gate_confidence", "not including"),
        ({"seed": "-1"}, "seed", "from 0 to 4294967295"),
        ({"feature_params": '{"token_pattern": "("}'}, "feature_params", "not a valid regular expression"),
        (
            {"feature_params": '{"token_pattern": "(x+x+)+y"}'},
            "feature_params",
            "backtracks catastrophically",
        ),
        ({"feature_params": '{"max_features": 100000000}'}, "feature_params", "at most 5,000,000"),
        ({"feature_params": '{"ngram_range": [1, 50]}'}, "feature_params", "at most 10"),
        (
            {"model_type": "random_forest", "model_params": '{"n_estimators": 1000000000}'},
            "model_params",
            "n_estimators is at most 5,000",
        ),
        (
            {"model_type": "random_forest", "model_params": '{"n_jobs": 1000000}'},
            "model_params",
            "n_jobs is at most 64",
        ),
        ({"gate_tie": "coin"}, "gate_tie", "keep_champion"),
        ({"model_schema": "main"}, "model_schema", "catalog.schema"),
        ({"experiment_name": "/Shared/{model}"}, "experiment_name", "{data_name}"),
        ({"search": '{"model_params": {"C": []}}'}, "search", "non-empty list"),
        ({"search": '{"trials": 3}'}, "search", "give model_params"),
        ({"search": '{"model_params": {"nope": [1]}}'}, "search", "unknown parameter 'nope'"),
        ({"task": "ranking"}, "task", "classification, regression"),
        ({"task": "regression", "model_type": "linear_svm"}, "model_type", "a regression model (ridge"),
        ({"gate_metric": "auc"}, "gate_metric", "rmse, mae, median_ae, mape, r2 (regression)"),
        ({"task": "regression", "gate_metric": "accuracy"}, "gate_metric", "a regression metric (rmse"),
        (
            {"gate_metric": "r2", "gate_max": "0.3"},
            "gate_max",
            "a score where higher is better (set gate_min)",
        ),
        (
            {"gate_metric": "mae", "gate_min": "0.3"},
            "gate_min",
            "an error where lower is better (set gate_max)",
        ),
        ({"task": "regression", "model_params": '{"C": 1}'}, "model_params", "'ridge'"),
        (
            {"task": "regression", "search": '{"model_params": {"alpha": [1, 2]}, "metric": "f1_macro"}'},
            "search",
            "for regression",
        ),
    ],
)
def test_bad_parameters_name_the_parameter(raw: dict, name: str, fragment: str) -> None:
    with pytest.raises(ParameterError) as caught:
        TrainParams.parse({"data_name": "fs", "data_version": "v1", **raw})
    assert caught.value.name == name
    assert fragment in str(caught.value)


def test_bad_parameters_fail_before_any_run_exists(store: Path, capsys) -> None:
    experiment = "/Shared/bricksml/never_used"
    code = main(
        [
            "train",
            "--data-name",
            "fs",
            "--data-version",
            "v1",
            "--experiment-name",
            experiment,
            "--model-params",
            '{"C": -1}',
            "--output",
            "json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert "model_params" in err and len(err.strip().splitlines()) == 1
    assert json.loads(out)["status"] == "error"
    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow' / 'mlflow.db'}")
    assert mlflow.get_experiment_by_name(experiment) is None


def test_unusable_feature_params_fail_before_any_run(store: Path) -> None:
    params = _params("cu", experiment_name="/Shared/x/features", feature_params={"numeric_columns": ["nope"]})
    with pytest.raises(ParameterError, match="feature_params"):
        train_models(params)
    assert mlflow.get_experiment_by_name("/Shared/x/features") is None


@pytest.mark.parametrize(
    ("data", "feature_params", "fragment"),
    [
        ("cu", {"ngram_range": [1, 1]}, "'ngram_range' does not apply to a tabular data set"),
        ("cu", {"svd_components": 10}, "'svd_components' does not apply to a tabular data set"),
        ("fs", {"numeric_columns": ["id"]}, "'numeric_columns' does not apply to a text data set"),
        ("fs", {"drop_columns": ["id"]}, "'drop_columns' does not apply to a text data set"),
    ],
)
def test_feature_params_that_cannot_apply_are_refused(
    store: Path, capsys, data: str, feature_params: dict, fragment: str
) -> None:
    args = ["train", "--data-name", data, "--data-version", "v1", "--gate-mode", "disabled"]
    code = main([*args, "--feature-params", json.dumps(feature_params)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "feature_params" in err and fragment in err


@pytest.mark.parametrize(
    ("data", "feature_params", "fragment"),
    [
        ("fs", {"min_df": 100000}, "more texts than the train split's"),
        ("fs", {"min_df": 0.9, "max_df": 0.1}, "raise max_df or lower min_df"),
        ("cu", {"numeric_columns": ["region"]}, "'region' is not numeric"),
    ],
)
def test_feature_params_that_the_data_cannot_meet_fail_before_any_run(
    store: Path, data: str, feature_params: dict, fragment: str
) -> None:
    experiment = f"/Shared/x/unmet_{data}_{len(feature_params)}"
    with pytest.raises(ParameterError, match="feature_params") as caught:
        train_models(_params(data, experiment_name=experiment, feature_params=feature_params))
    assert fragment in str(caught.value)
    assert mlflow.get_experiment_by_name(experiment) is None


def test_each_data_set_has_its_own_model_and_experiment(store: Path) -> None:
    result = train_models(
        TrainParams.parse({"data_name": "cu", "data_version": "v1", "gate_mode": "disabled"})
    )
    assert result.model_name == "main.bricksml.cu"
    experiment = mlflow.get_experiment(result.experiment_id)
    assert experiment.name == "/Shared/bricksml/cu"
    other = _params("fs", model_name="main.bricksml.fs_own", model_schema="lab.sandbox")
    assert other.registered_model_name == "main.bricksml.fs_own"  # a name given wins over the rule
    assert _params("fs", model_schema="lab.sandbox").registered_model_name == "lab.sandbox.fs"


def test_a_model_keeps_to_the_data_set_its_versions_were_trained_on(store: Path, capsys) -> None:
    name = "main.bricksml.cu_only"
    train_models(_params("cu", model_name=name))
    capsys.readouterr()
    code = main(["train", "--data-name", "fs", "--data-version", "v1", "--model-name", name])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "data_name 'cu'" in err and "'fs'" in err and "allow_other_data=true" in err
    assert [str(v.version) for v in MlflowClient().search_model_versions(f"name='{name}'")] == ["1"]
    allowed = train_models(_params("fs", model_name=name, allow_other_data="true"))
    assert allowed.model_version == "2"


def test_missing_data_version_lists_what_exists(store: Path) -> None:
    with pytest.raises(Exception, match=r"fs/v9 not found .*existing versions: v1"):
        train_models(TrainParams.parse({"data_name": "fs", "data_version": "v9"}))


def test_gate_promotes_first_model_and_only_better_ones(store: Path) -> None:
    name = "main.bricksml.fs_gate"
    good = {"data_name": "fs", "data_version": "v1", "model_name": name, "gate_min_f1": "0.6"}

    first = train_models(TrainParams.parse(good))
    gate = validate_model(TrainParams.parse(good), first.model_version)
    assert gate.decision == "promoted" and gate.promoted
    assert registry.aliases(name) == {"champion": "1", "challenger": "1"}

    # A much weaker model: reaches the minimum, loses to the champion -> challenger only.
    worse = {**good, "model_params": '{"C": 0.02}'}
    second = train_models(TrainParams.parse(worse))
    gate = validate_model(TrainParams.parse(worse), second.model_version)
    assert gate.decision == "challenger" and not gate.promoted
    assert gate.champion_version == "1" and gate.champion_score > gate.challenger_score
    assert registry.aliases(name) == {"champion": "1", "challenger": "2"}
    tags = registry.version(name, "2").tags
    assert tags["gate_decision"] == "challenger"
    assert "worse than champion v1" in tags["gate_reason"]
    record = json.loads(tags["gate_record"])
    assert record["champion_version"] == "1" and record["split"] == "holdout"
    assert record["challenger"] == pytest.approx(gate.challenger_score, abs=1e-6)
    assert record["champion"] == pytest.approx(gate.champion_score, abs=1e-6)
    assert record["metrics"]["f1_macro"] == pytest.approx(gate.challenger_score, abs=1e-6)
    assert {k: record[k] for k in ("mode", "min_f1", "max_drop")} == {
        "mode": "enabled",
        "min_f1": 0.6,
        "max_drop": 0.0,
    }

    # Allowing the drop promotes it.
    lenient = {**worse, "gate_max_drop": "0.9"}
    gate = validate_model(TrainParams.parse(lenient), second.model_version)
    assert gate.decision == "promoted"
    assert registry.aliases(name)["champion"] == "2"

    # Below the minimum: rejected, no alias moves.
    strict = {**good, "gate_min_f1": "0.999"}
    third = train_models(TrainParams.parse(strict))
    gate = validate_model(TrainParams.parse(strict), third.model_version)
    assert gate.decision == "rejected"
    assert registry.aliases(name) == {"champion": "2", "challenger": "2"}

    # Dry run: the decision is recorded, nothing moves.
    dry = {**good, "gate_mode": "dry_run"}
    gate = validate_model(TrainParams.parse(dry), first.model_version)
    assert gate.decision == "would_promote"
    assert registry.aliases(name) == {"champion": "2", "challenger": "2"}
    assert registry.version(name, "1").tags["gate_decision"] == "would_promote"

    disabled = {**good, "gate_mode": "disabled"}
    assert validate_model(TrainParams.parse(disabled), first.model_version).decision == "skipped"
    assert registry.aliases(name) == {"champion": "2", "challenger": "2"}


def test_gate_judges_on_holdout_with_both_models_scored(store: Path) -> None:
    params = {"data_name": "fs", "data_version": "v1", "model_name": "main.bricksml.fs_split"}
    result = train_models(TrainParams.parse(params))
    gate = validate_model(TrainParams.parse(params), result.model_version)
    assert gate.split == "holdout"
    assert gate.challenger_score == pytest.approx(result.metrics["holdout_f1_macro"])
    # The registered version (stored, reloaded) scores exactly as the trained pipeline did: the
    # training run's holdout metrics are the gate's, so the gate does not log them again.
    run = MlflowClient().get_run(result.run_id)
    assert run.data.metrics["holdout_f1_macro"] == gate.challenger_score
    assert run.data.metrics["holdout_accuracy"] == gate.metrics["accuracy"]
    assert not any(key.startswith("gate_") for key in run.data.metrics)


def test_validate_unknown_version_names_what_exists(store: Path) -> None:
    params = TrainParams.parse(
        {"data_name": "fs", "data_version": "v1", "model_name": "main.bricksml.fs_unknown"}
    )
    validate_model(params, train_models(params).model_version)
    with pytest.raises(RegistryError, match=r"no version 42; existing versions: 1 \(@challenger -> 1"):
        validate_model(params, "42")


def test_search_runs_nested_trials_and_registers_the_best(store: Path) -> None:
    search = {"model_params": {"C": [0.01, 8.0]}, "feature_params": {"ngram_range": [[1, 1]]}, "folds": 2}
    params = _params("fs", model_name="main.bricksml.fs_search", search=search)
    result = train_models(params)
    client = MlflowClient()
    children = client.search_runs(
        [client.get_run(result.run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'",
    )
    assert len(children) == 2
    scores = {float(r.data.params["model.C"]): r.data.metrics["cv_f1_macro_mean"] for r in children}
    best_c = max(scores, key=scores.get)
    assert best_c == 8.0  # a tiny C cannot separate three classes as well
    assert result.best_trial["model_params"] == {"C": best_c}
    run = client.get_run(result.run_id)
    assert float(run.data.params["model.C"]) == best_c
    assert run.data.params["features.ngram_range"] == "[1, 1]"
    model = mlflow.sklearn.load_model(result.model_uri)
    assert model.named_steps["model"].C == best_c


def test_random_search_is_deterministic_by_seed() -> None:
    from bricksml.models.search import SearchPlan

    plan = SearchPlan.parse(
        {"model_params": {"C": {"loguniform": [0.01, 10]}}, "trials": 4}, "logistic_regression"
    )
    first = [t.model_params for t in plan.trials_iter(7)]
    assert first == [t.model_params for t in plan.trials_iter(7)]
    assert len(first) == 4 and all(0.01 <= t["C"] <= 10 for t in first)
    assert first != [t.model_params for t in plan.trials_iter(8)]


def test_cli_train_outputs_the_promised_json(store: Path, capsys) -> None:
    code = main(
        [
            "train",
            "--data-name",
            "cu",
            "--data-version",
            "v1",
            "--model-name",
            "main.bricksml.cu_cli",
            "--output",
            "json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)["data"]
    for key in ("run_id", "model_uri", "model_name", "model_version", "metrics", "promoted"):
        assert key in data
    assert data["model_uri"] == "models:/main.bricksml.cu_cli/1"
    assert data["promoted"] is True
    assert registry.aliases("main.bricksml.cu_cli")["champion"] == "1"


def test_training_leaves_no_library_hints_on_the_console(store: Path) -> None:
    """MLflow's hints about integer columns and dataset sources are handled here, not shown."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_models(_params("cu", model_name="main.bricksml.cu_quiet"))
    shown = [f"{w.category.__name__}: {w.message}" for w in caught if issubclass(w.category, UserWarning)]
    assert not shown, shown


def test_a_job_passes_the_commit_and_target_for_the_lineage(store: Path) -> None:
    """On Databricks the wheel has no working copy: the bundle's commit arrives as a parameter."""
    params = _params(
        "cu", model_name="main.bricksml.cu_lineage", git_commit="abc1234", bundle_target="staging"
    )
    result = train_models(params)
    tags = registry.version(params.registered_model_name, result.model_version).tags
    assert (tags["git_commit"], tags["bundle_target"]) == ("abc1234", "staging")
    run = MlflowClient().get_run(result.run_id)
    assert (
        run.data.tags["mlflow.source.git.commit"] == "abc1234" and run.data.tags["bundle_target"] == "staging"
    )
