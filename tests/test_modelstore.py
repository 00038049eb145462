"""How a fitted pipeline is stored: compact, safe (skops), and answering exactly as before."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from bricksml.data import sample
from bricksml.models.pipeline import ModelSpec, build_pipeline
from bricksml.models.types import MODEL_TYPES, fit_params
from bricksml.tracking import modelstore, setup


def _fitted(feature_params: dict) -> tuple[object, object]:
    data = sample.sentiment(800, seed=5)
    spec = ModelSpec("logistic_regression", {}, feature_params, seed=0)
    pipeline = build_pipeline(spec, data, ["Sentence"], "Sentence")
    pipeline.fit(data[["Sentence"]], data["Sentiment"])
    return pipeline, sample.sentiment(300, seed=6)[["Sentence"]]


@pytest.mark.parametrize("feature_params", [{}, {"char_ngrams": [2, 4]}], ids=["words", "words+chars"])
def test_stored_vocabulary_is_one_array_and_predictions_do_not_change(feature_params: dict) -> None:
    pipeline, unseen = _fitted(feature_params)
    expected = pipeline.predict_proba(unseen)
    names = pipeline[:-1].get_feature_names_out()
    vectorizers = [s for s in modelstore._walk(pipeline) if isinstance(getattr(s, "vocabulary_", None), dict)]
    assert len(vectorizers) == (2 if feature_params else 1)
    as_fitted = _schema(skops.io.dumps(pipeline))

    blob = skops.io.dumps(modelstore.compact(pipeline))
    # The trusted types are listed from the unfitted pipeline, before training, as train_models does.
    unfitted = build_pipeline(
        ModelSpec("logistic_regression", {}, feature_params, 0), unseen, ["Sentence"], "Sentence"
    )
    loaded = skops.io.loads(blob, trusted=modelstore.trusted_types(unfitted, "logistic_regression"))

    # Stored as fitted, the schema holds a JSON node per term (about 1 kB each); compacted, the
    # terms live in one array file and the schema is only the pipeline's structure.
    assert len(_schema(blob)) * 5 < len(as_fitted), (len(_schema(blob)), len(as_fitted))
    stored = [s for s in modelstore._walk(loaded) if isinstance(getattr(s, "vocabulary", None), np.ndarray)]
    assert len(stored) == len(vectorizers)
    np.testing.assert_array_equal(loaded.predict_proba(unseen), expected)
    np.testing.assert_array_equal(loaded[:-1].get_feature_names_out(), names)


def _schema(blob: bytes) -> bytes:
    return zipfile.ZipFile(io.BytesIO(blob)).read("schema.json")


def test_compacted_pipeline_still_predicts_in_memory() -> None:
    pipeline, unseen = _fitted({})
    expected = pipeline.predict_proba(unseen)
    modelstore.compact(pipeline)
    np.testing.assert_array_equal(pipeline.predict_proba(unseen), expected)


def test_a_vocabulary_an_array_cannot_hold_stays_a_dict() -> None:
    # NumPy strings drop a trailing NUL: "\x00" would come back as "" and its column would be lost.
    texts = ["up\x00", "down", "up up", "down\x00 down"] * 5
    labels = ["positive", "negative", "positive", "negative"] * 5
    pipeline = Pipeline([("tfidf", TfidfVectorizer(analyzer="char")), ("model", LogisticRegression())])
    pipeline.fit(texts, labels)
    expected = pipeline.predict_proba(texts)
    modelstore.compact(pipeline)
    assert isinstance(pipeline.named_steps["tfidf"].vocabulary_, dict)
    loaded = skops.io.loads(
        skops.io.dumps(pipeline), trusted=skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
    )
    np.testing.assert_array_equal(loaded.predict_proba(texts), expected)


def test_compact_leaves_tabular_pipelines_alone() -> None:
    data = sample.customers(300, seed=2)
    columns = [c for c in data.columns if c not in ("customer_segment", "customer_id")]
    pipeline = build_pipeline(ModelSpec("logistic_regression", {}, {}, seed=0), data, columns, None)
    pipeline.fit(data[columns], data["customer_segment"])
    before = json.dumps(pipeline.get_params(deep=True), default=repr, sort_keys=True)
    modelstore.compact(pipeline)
    assert json.dumps(pipeline.get_params(deep=True), default=repr, sort_keys=True) == before


# -- loading: only what bricksml's own code builds --------------------------------------------

FAST = {"random_forest": {"n_estimators": 10}, "gradient_boosting": {"max_iter": 10}}


@pytest.fixture(scope="module")
def store(workspace: Path) -> Iterator[str]:
    """A local MLflow store (SQLite) of its own for the models these tests register: its experiment."""
    setup.configure()
    # Artifacts beside the SQLite store, as the jobs keep them (not ./mlruns in the working copy).
    yield setup.experiment_id("/Shared/bricksml/modelstore-tests")


def _data(kind: str) -> tuple[pd.DataFrame, pd.Series, list[str], str | None]:
    if kind == "text":
        frame = sample.sentiment(300, seed=8)
        return frame[["Sentence"]], frame["Sentiment"], ["Sentence"], "Sentence"
    frame = sample.customers(300, seed=8)
    columns = [c for c in frame.columns if c not in ("customer_segment", "customer_id")]
    return frame[columns], frame["customer_segment"], columns, None


@pytest.mark.parametrize("kind", ["text", "tabular"])
@pytest.mark.parametrize("model_type", sorted(MODEL_TYPES))
def test_every_model_type_registered_loads_through_the_code_derived_trust(
    store: str, model_type: str, kind: str
) -> None:
    x, y, columns, text_col = _data(kind)
    feature_params = {"svd_components": 20} if model_type == "gradient_boosting" and text_col else {}
    if text_col and model_type == "logistic_regression":
        feature_params = {"char_ngrams": [2, 4]}  # the FeatureUnion path too
    spec = ModelSpec(model_type, FAST.get(model_type, {}), feature_params, seed=0)
    pipeline = build_pipeline(spec, x.assign(label=y), columns, text_col)
    trusted = modelstore.trusted_types(pipeline, model_type)
    pipeline.fit(x, y, **fit_params(model_type, y))
    expected = pipeline.predict_proba(x)
    name = f"main.bricksml.store_{kind}_{model_type}"
    with mlflow.start_run(experiment_id=store):
        logged = modelstore.log_and_register(pipeline, x, name, trusted, {})

    local = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{logged.version}"))
    stored = skops.io.get_untrusted_types(file=local / "model.skops")
    assert set(stored) <= modelstore.allowed_types(), set(stored) - modelstore.allowed_types()
    loaded = modelstore.load(f"models:/{name}/{logged.version}")
    # A forest sums its trees' votes in threads: the last bit may differ from run to run.
    np.testing.assert_allclose(loaded.predict_proba(x), expected, rtol=1e-12, atol=1e-15)


def test_allowed_types_are_the_code_s_and_exclude_what_no_model_holds() -> None:
    allowed = modelstore.allowed_types()
    # The one function a text pipeline holds, and the fitted-only types the model types declare.
    assert "numpy.ravel" in allowed
    for kind in MODEL_TYPES.values():
        assert set(kind.fitted_types) <= allowed, kind.name
    for dangerous in ("pandas.to_pickle", "pandas.io.pickle.to_pickle", "builtins.eval", "os.system"):
        assert dangerous not in allowed


def test_a_pipeline_holding_a_foreign_type_is_refused_before_training() -> None:
    pipeline = Pipeline([("leak", FunctionTransformer(pd.to_pickle)), ("model", LogisticRegression())])
    with pytest.raises(ValueError, match=r"pandas\.to_pickle"):
        modelstore.trusted_types(pipeline, "logistic_regression")
