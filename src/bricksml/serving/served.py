"""One model version loaded for serving: its signature, its task, and predictions for checked rows."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa

from bricksml.errors import DataError, first_line
from bricksml.inference import source
from bricksml.inference.model import ResolvedModel
from bricksml.models import evaluate
from bricksml.tracking import modelstore, registry

#: The tag that makes a version a regressor; any other value (or none) is a classifier.
TASK_TAG = "task"
REGRESSION = "regression"
#: A value of each type for the warm-up row: loading is not done until one prediction ran (a
#: TF-IDF vectorizer rebuilds its vocabulary on first use), so no request pays for it.
_NEUTRAL = {"string": "", "double": 0.0, "float": 0.0, "bool": False}


@dataclass(frozen=True)
class ServedModel:
    """A loaded version: what a request is checked against and what predicts it."""

    name: str
    version: str
    uri: str
    pipeline: Any
    types: dict[str, pa.DataType | None]
    regression: bool
    classes: tuple[str, ...]
    load_seconds: float

    @property
    def entity_id(self) -> str:
        """The served entity's name as Databricks gives it by default: ``<model>-<version>``."""
        return f"{self.name}-{self.version}"

    def frame(self, columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
        """Checked values as the frame the pipeline was trained on (batch inference's types)."""
        arrays = {
            name: pa.array(columns[name], type=type_) if type_ is not None else pa.array(columns[name])
            for name, type_ in self.types.items()
        }
        return pa.table(arrays).to_pandas()

    def predict(self, frame: pd.DataFrame, probabilities: bool) -> tuple[list[Any], np.ndarray | None]:
        """Classes (or numbers), and the class probabilities when asked, one per row of ``frame``."""
        if self.regression:
            return np.asarray(self.pipeline.predict(frame), dtype=float).tolist(), None
        proba = self.pipeline.predict_proba(frame)
        return evaluate.predictions(proba, self.classes).tolist(), proba if probabilities else None


def load(resolved: ResolvedModel) -> ServedModel:
    """Load a resolved version the way every bricksml loader does, and run one warm-up prediction."""
    started = time.perf_counter()
    uri = resolved.load_uri
    try:
        info = mlflow.models.get_model_info(uri)
    except mlflow.exceptions.MlflowException as exc:
        raise DataError(f"cannot read {resolved.model_uri}: {first_line(exc)}") from None
    if info.signature is None or info.signature.inputs is None:
        raise DataError(f"{resolved.model_uri} has no input signature; a server cannot check requests for it")
    types = source.model_types(info.signature.inputs)
    pipeline = modelstore.load(uri, permission=None)  # a server never loads a pickle
    regression = _task(resolved) == REGRESSION
    classes = () if regression else tuple(str(c) for c in pipeline.classes_)
    served = ServedModel(
        name=resolved.model_name or resolved.label,
        version=resolved.version,
        uri=resolved.model_uri,
        pipeline=pipeline,
        types=types,
        regression=regression,
        classes=classes,
        load_seconds=0.0,
    )
    warm = {name: [_NEUTRAL.get(str(type_), None)] for name, type_ in types.items()}
    try:
        served.predict(served.frame(warm), probabilities=False)
    except ValueError as exc:
        raise DataError(
            f"{resolved.model_uri} cannot predict a row of neutral values: {first_line(exc)}"
        ) from None
    return ServedModel(**{**served.__dict__, "load_seconds": round(time.perf_counter() - started, 3)})


def _task(resolved: ResolvedModel) -> str:
    """The version's task tag, else its training run's (the contract reads either)."""
    if TASK_TAG in resolved.tags:
        return resolved.tags[TASK_TAG]
    if not resolved.run_id:
        return ""
    try:
        return registry.client().get_run(resolved.run_id).data.tags.get(TASK_TAG, "")
    except mlflow.exceptions.MlflowException:
        return ""
