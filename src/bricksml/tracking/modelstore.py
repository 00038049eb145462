"""Log a fitted pipeline as an MLflow model, register it, and load one back without running its code.

Loading trusts what bricksml's own code can build, never what the artifact says about itself: an
MLmodel file lists its ``skops_trusted_types``, so whoever registers a version would otherwise
decide what loading it may construct and call. Every loader (inference, the gate, serving, the app)
goes through :func:`load`.
"""

from __future__ import annotations

import functools
import os
import pickle
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import scipy
import sklearn
import skops
import skops.io
import yaml
from mlflow.environment_variables import MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK
from mlflow.exceptions import MlflowException
from mlflow.models import Model, infer_signature
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from bricksml import runtime
from bricksml.errors import DataError, FeatureParamError, UnsafeModelError, first_line
from bricksml.models import features
from bricksml.models.types import MODEL_TYPES
from bricksml.tracking import registry

MODEL_ARTIFACT = "model"
FITTED_NUMPY = ("numpy.dtype",)
INPUT_EXAMPLE_ROWS = 5
SAFE_FORMAT = "skops"
#: Formats whose loading runs whatever code the file names: refused unless the caller allows them.
UNSAFE_FORMATS = ("pickle", "cloudpickle")
#: The parameter that allows them, named in the refusal (inference's contract has it).
ALLOW_UNSAFE = "allow_unsafe_model_formats"


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


def trusted_types(pipeline: Pipeline, model_type: str, task: str | None = None) -> list[str]:
    """The types skops must trust to load this pipeline, all from scikit-learn and NumPy.

    Taken from the unfitted pipeline (cheap: no vocabulary, no trees) plus the fitted-only types
    the model type declares; serializing the fitted pipeline twice just to list them costs seconds
    for a large TF-IDF vocabulary.
    """
    unfitted = skops.io.get_untrusted_types(data=skops.io.dumps(clone(pipeline)))
    kind = MODEL_TYPES[model_type]
    fitted = kind.fitted_types if task is None else kind.variant(task).fitted_types
    found = sorted({*unfitted, *FITTED_NUMPY, *fitted})
    foreign = [t for t in found if t not in allowed_types()]
    if foreign:  # refused now, before training: the loader would refuse the model afterwards
        raise ValueError(f"the pipeline holds types no bricksml model type declares: {foreign}")
    return found


@functools.cache
def allowed_types() -> frozenset[str]:
    """Every type outside skops' defaults that a bricksml model can hold: all :func:`load` trusts.

    Derived from the code, never from an artifact: each model type's pipeline is built, unfitted,
    for each task it serves, for text (word and character TF-IDF, with SVD for dense types) and for
    tabular data (numeric columns with each scaling the type accepts, categorical columns), and its
    skops dump is walked;
    to that come the fitted-only types each model type declares next to its estimator
    (``ModelType.fitted_types``). Unfitted dumps keep this cheap (~0.15 s, once per process);
    tests/test_modelstore.py fits every type on text and tabular data and checks nothing is missing.
    """
    found = {*FITTED_NUMPY}
    text = features.resolve_params({"char_ngrams": [2, 4]})
    for kind in MODEL_TYPES.values():
        found.update(kind.fitted_types)
        variants = [({"text": ["text"], "numeric": [], "categorical": []}, text)]
        for scaling in ("standard", "minmax", "none"):
            tabular = {"text": [], "numeric": ["number"], "categorical": ["category"]}
            variants.append((tabular, features.resolve_params({"scaling": scaling})))
        for columns, params in variants:
            try:
                preprocess = features.build_features(columns, params, kind, 0)
            except FeatureParamError:  # a scaling this type refuses: no model holds it
                continue
            for task in kind.tasks:
                pipeline = Pipeline([("features", preprocess), ("model", kind.estimator({}, 0, task))])
                found.update(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))
    return frozenset(found)


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


def load(
    model_uri: str, *, allow_unsafe_formats: bool = False, permission: str | None = ALLOW_UNSAFE
) -> Pipeline:
    """The fitted scikit-learn pipeline behind a model URI, loaded without running code it brings.

    A skops artifact loads only when every type it holds is one :func:`allowed_types` lists (the
    list in its MLmodel is ignored); pickle and cloudpickle artifacts run code by design and load
    only with ``allow_unsafe_formats``, which the caller takes from its ``permission`` parameter
    (named in the refusal; ``None``: the caller never loads them, as the gate). Refusals are
    :class:`UnsafeModelError` (exit 3); nothing of a refused file is deserialized.
    """
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))
    return load_local(local, model_uri, allow_unsafe_formats=allow_unsafe_formats, permission=permission)


def load_local(
    local: Path, asked: str, *, allow_unsafe_formats: bool = False, permission: str | None = ALLOW_UNSAFE
) -> Pipeline:
    """:func:`load` for a model folder already on disk; ``asked`` names it in errors."""
    try:
        flavors = Model.load(str(local)).flavors
    except (OSError, ValueError, MlflowException, yaml.YAMLError):
        raise DataError(f"{asked}: no readable MLmodel file; it is not an MLflow model") from None
    conf = flavors.get("sklearn")
    if not isinstance(conf, dict) or not isinstance(conf.get("pickled_model"), str):
        raise DataError(
            f"{asked}: not a scikit-learn model (flavors: {', '.join(flavors) or 'none'}); "
            "bricksml scores the pipelines train_models registers"
        )
    root = local.resolve()
    file = (root / conf["pickled_model"]).resolve()
    if not file.is_relative_to(root) or not file.is_file():
        raise UnsafeModelError(f"{asked}: its model file {conf['pickled_model']!r} is not in the artifact")
    fmt = conf.get("serialization_format", "pickle")  # MLflow's own default for an unnamed format
    if fmt == SAFE_FORMAT:
        model = _load_skops(file, asked)
    elif fmt in UNSAFE_FORMATS:
        if not allow_unsafe_formats:
            escape = (
                f" or, only if you trust whoever registered it, set {permission}=true"
                if permission
                else " (nothing here loads such a model)"
            )
            raise UnsafeModelError(
                f"{asked}: refused, it is stored as {fmt}, which runs code from the file when loaded; "
                f"retrain it with train_models (skops format){escape}"
            )
        model = _load_unsafe(file, fmt, asked)
    else:
        raise DataError(f"{asked}: unknown serialization_format {fmt!r}; bricksml loads skops models")
    if not (hasattr(model, "predict_proba") and hasattr(model, "classes_")) and not _is_regressor(model):
        raise DataError(
            f"{asked}: holds a {type(model).__name__}, not a fitted classifier (predict_proba) or regressor"
        )
    return model


def _is_regressor(model: object) -> bool:
    """A fitted scikit-learn regressor (a pipeline ending in one): what a regression version holds."""
    from sklearn.base import is_regressor

    try:
        return hasattr(model, "predict") and is_regressor(model)
    except Exception:  # an object of someone else's that answers nothing sensible
        return False


def _load_skops(file: Path, asked: str) -> Pipeline:
    try:
        found = skops.io.get_untrusted_types(file=file)  # reads the schema only: nothing is built
    except Exception as exc:  # any parse failure of a file someone else wrote is theirs, not a bug
        raise DataError(f"{asked}: its skops file cannot be read ({_named_first_line(exc)})") from None
    foreign = sorted(set(found) - allowed_types())
    if foreign:
        listed = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise UnsafeModelError(
            f"{asked}: refused, its skops file holds {listed}, which no bricksml model contains and "
            "loading could run; retrain it with train_models"
        )
    try:
        return skops.io.load(file, trusted=found)
    except Exception as exc:  # e.g. a version of scikit-learn that lacks a stored type
        raise DataError(f"{asked}: its skops file cannot be loaded ({_named_first_line(exc)})") from None


def _load_unsafe(file: Path, fmt: str, asked: str) -> Pipeline:
    """Unpickle, as the caller explicitly allowed: this runs whatever the file names."""
    try:
        with file.open("rb") as handle:
            if fmt == "cloudpickle":
                import cloudpickle  # an MLflow dependency, needed only here

                return cloudpickle.load(handle)
            return pickle.load(handle)
    except Exception as exc:  # a missing module, a truncated file: the artifact's problem
        raise DataError(f"{asked}: its {fmt} file cannot be loaded ({_named_first_line(exc)})") from None


def _named_first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {first_line(exc)}" if str(exc).strip() else type(exc).__name__
