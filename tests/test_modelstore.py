"""How a fitted pipeline is stored: compact, safe (skops), and answering exactly as before."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import skops.io
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from bricksml.data import sample
from bricksml.models.pipeline import ModelSpec, build_pipeline
from bricksml.tracking import modelstore


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
