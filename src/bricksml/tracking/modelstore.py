"""Log a fitted pipeline as an MLflow model and register it as a new version."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
import scipy
import sklearn
import skops
import skops.io
from mlflow.environment_variables import MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK
from mlflow.models import Model, infer_signature
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from bricksml import runtime
from bricksml.models.types import MODEL_TYPES
from bricksml.tracking import registry

MODEL_ARTIFACT = "model"
FITTED_NUMPY = ("numpy.dtype",)
INPUT_EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class LoggedVersion:
    model_id: str  # the logged model's id (m-...)
    model_uri: str  # the logged model (models:/m-...)
    version: str  # the registered version number


def pip_requirements() -> list[str]:
    """Exactly what loading the model needs, pinned; inferring them would cost seconds per run."""
    return [
        f"mlflow=={mlflow.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        f"scipy=={scipy.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
        f"skops=={skops.__version__}",
    ]


def trusted_types(pipeline: Pipeline, model_type: str) -> list[str]:
    """The types skops must trust to load this pipeline, all from scikit-learn and NumPy.

    Taken from the unfitted pipeline (cheap: no vocabulary, no trees) plus the fitted-only types
    the model type declares; serializing the fitted pipeline twice just to list them costs seconds
    for a large TF-IDF vocabulary.
    """
    unfitted = skops.io.get_untrusted_types(data=skops.io.dumps(clone(pipeline)))
    found = sorted({*unfitted, *FITTED_NUMPY, *MODEL_TYPES[model_type].fitted_types})
    foreign = [t for t in found if not t.startswith(("sklearn.", "numpy.", "scipy."))]
    if foreign:
        raise ValueError(f"the pipeline holds types outside scikit-learn/NumPy/SciPy: {foreign}")
    return found


def compact(pipeline: Pipeline) -> Pipeline:
    """Shrink what storing the fitted pipeline costs, without changing a single prediction.

    skops stores a dict entry by entry (a JSON node per term: ~0.7 s to write and 0.17 s to read for
    a 15k-term TF-IDF vocabulary) but a NumPy array in one block (~0.01 s). So the learned
    vocabulary moves into the vectorizer's own ``vocabulary`` parameter as an array of terms in
    column order, and ``vocabulary_`` is dropped: scikit-learn rebuilds it from that parameter on
    first use, with the same column for every term. ``stop_words_`` is documented as safe to drop.
    A vocabulary that an array cannot hold exactly (NumPy drops a trailing NUL) stays a dict.
    """
    for step in _walk(pipeline):
        vocabulary = getattr(step, "vocabulary_", None)
        if isinstance(vocabulary, dict):
            terms = sorted(vocabulary, key=vocabulary.__getitem__)
            array = np.array(terms, dtype=str)
            if array.tolist() == terms:
                step.vocabulary = array
                del step.vocabulary_
        if hasattr(step, "stop_words_"):
            step.stop_words_ = None
    return pipeline


def _walk(estimator: object) -> list[object]:
    out = [estimator]
    children = []
    if hasattr(estimator, "steps"):
        children = [step for _, step in estimator.steps]
    elif hasattr(estimator, "transformers_"):
        children = [t for _, t, _ in estimator.transformers_]
    elif hasattr(estimator, "transformer_list"):
        children = [t for _, t in estimator.transformer_list]
    for child in children:
        out.extend(_walk(child))
    return out


def log_and_register(
    pipeline: Pipeline,
    x_train: pd.DataFrame,
    model_name: str,
    skops_trusted_types: Sequence[str],
    version_tags: Mapping[str, str],
) -> LoggedVersion:
    """Log the model with signature, input example and pinned requirements; register a new version.

    ``skops_trusted_types`` is ``trusted_types`` of the pipeline, listed before training.

    The version's tags (its lineage) are written with the version itself: one call, not one per tag.
    """
    example = x_train.head(INPUT_EXAMPLE_ROWS)
    # The requirements are pinned from this very environment: MLflow's check that the environment
    # satisfies them can only pass, and it costs about half a second.
    with runtime.environment_kept(MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK.name), warnings.catch_warnings():
        os.environ[MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK.name] = "true"
        # The signature is inferred from the training columns, which is what the hint asks for.
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        signature = infer_signature(example, pipeline.predict(example))
        compact(pipeline)  # after the last prediction: using the vectorizer rebuilds its vocabulary_
        info = Model.log(  # what mlflow.sklearn.log_model does, minus the serving-input check
            artifact_path=None,
            name=MODEL_ARTIFACT,
            flavor=_SKLEARN_FLAVOR,
            sk_model=pipeline,
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(),
            serialization_format="skops",
            skops_trusted_types=list(skops_trusted_types),
            validate_serving_input=False,
        )
    registry.require_signature(info)
    registered = mlflow.register_model(info.model_uri, model_name, tags=dict(version_tags))
    return LoggedVersion(info.model_id, info.model_uri, str(registered.version))


class _SklearnFlavor:
    """``mlflow.sklearn`` as ``Model.log`` uses it, taking the one argument the flavour lacks.

    ``Model.log`` reloads a model through pyfunc and predicts on its input example unless told
    ``validate_serving_input=False``, but passes that argument on to the flavour's ``save_model``,
    which refuses it. The check only warns, and it is a second load of the model per run (~25 ms of
    a ~1.3 s job); the tests serve every model type's input example through MLflow's scoring path,
    and the validate task loads this very version and scores the holdout.
    """

    __name__ = "mlflow.sklearn"

    @staticmethod
    def save_model(
        path: str, mlflow_model: Model, validate_serving_input: bool = True, **kwargs: object
    ) -> None:
        mlflow.sklearn.save_model(path=path, mlflow_model=mlflow_model, **kwargs)


_SKLEARN_FLAVOR = _SklearnFlavor()


def load(model_uri: str) -> Pipeline:
    """The fitted scikit-learn pipeline behind a model URI (for predict_proba and classes_)."""
    return mlflow.sklearn.load_model(model_uri)
