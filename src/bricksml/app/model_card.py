"""The model the app shows: which version an alias names, what it reads, what it predicts.

Its input columns come from the version's signature, its task from the ``task`` tag (version,
else training run: ``regression`` makes a regressor, anything else a classifier), its scores from
the training run's metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mlflow
import pyarrow as pa
from mlflow.exceptions import MlflowException

from bricksml.errors import DataError, RegistryError, first_line
from bricksml.inference import source
from bricksml.inference.model import ResolvedModel, resolve_ref
from bricksml.models import tasks
from bricksml.tracking import registry
from bricksml.tracking.model_refs import AliasRef

#: Where a regressor's typical error is read from, first found wins (the gate's split first).
TYPICAL_ERROR = tuple((split, metric) for split in ("holdout", "test") for metric in ("mae", "rmse"))
NOT_REGISTERED = (
    "no model is registered yet: train one first (`bricksml run train_models`, or the train_models job)"
)


@dataclass(frozen=True)
class ModelCard:
    """One registered version as the pages need it."""

    resolved: ResolvedModel
    columns: dict[str, pa.DataType | None]  # the signature's input columns, as batch inference reads them
    task: str
    metrics: dict[str, float] = field(default_factory=dict)
    run_tags: dict[str, str] = field(default_factory=dict)

    @property
    def regression(self) -> bool:
        return self.task == tasks.REGRESSION

    @property
    def version(self) -> str:
        return self.resolved.version

    @property
    def name(self) -> str:
        return self.resolved.model_name

    def tag(self, key: str) -> str:
        """A lineage tag of the version (train_models writes them), else of its run, else ''."""
        return self.resolved.tags.get(key) or self.run_tags.get(key) or ""

    @property
    def text_col(self) -> str:
        text = self.tag("text_col")
        return text if text in self.columns else ""

    def typical_error(self) -> tuple[str, float] | None:
        """A regressor's typical error on held-out rows: (what it is, value), the first recorded."""
        for split, metric in TYPICAL_ERROR:
            if f"{split}_{metric}" in self.metrics:
                return f"{tasks.metric_name(metric)} on the {split} split", self.metrics[f"{split}_{metric}"]
        return None


def registered_models() -> list[str]:
    """The names of the registered models this identity can see, sorted."""
    try:
        return sorted(m.name for m in registry.client().search_registered_models(max_results=200))
    except MlflowException as exc:
        raise RegistryError(f"the model registry cannot be read: {first_line(exc)}") from None


def describe(name: str, alias: str) -> ModelCard:
    """The version ``name@alias``; a clear error when there is no such model or alias yet."""
    if not name:
        raise RegistryError(NOT_REGISTERED)
    try:
        resolved = resolve_ref(AliasRef(name, alias))
    except RegistryError as exc:
        if not registered_models():
            raise RegistryError(NOT_REGISTERED) from None
        raise RegistryError(f"model {name} has no @{alias} version to show: {exc}") from None
    return card(resolved)


def card(resolved: ResolvedModel) -> ModelCard:
    """What the pages need of a resolved version."""
    try:
        info = mlflow.models.get_model_info(resolved.load_uri)
    except MlflowException as exc:
        raise DataError(f"cannot read {resolved.model_uri}: {first_line(exc)}") from None
    if info.signature is None or info.signature.inputs is None:
        raise DataError(f"{resolved.model_uri} has no input signature; the app cannot tell what it reads")
    metrics: dict[str, float] = {}
    run_tags: dict[str, str] = {}
    if resolved.run_id:
        try:
            run = registry.client().get_run(resolved.run_id)
            metrics, run_tags = dict(run.data.metrics), dict(run.data.tags)
        except MlflowException:  # a deleted run: the version still predicts
            pass
    task = tasks.of_tags(resolved.tags if tasks.TAG in resolved.tags else run_tags)
    return ModelCard(resolved, source.model_types(info.signature.inputs), task, metrics, run_tags)
