"""Parameters of the train_models job (both of its tasks: train and validate)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar

from bricksml.models import search as search_space
from bricksml.models.features import FeatureParamError
from bricksml.models.pipeline import ModelParamError, check_feature_params, check_model_params
from bricksml.models.types import MODEL_TYPES
from bricksml.params.base import Contract, name_check, param
from bricksml.params.create_data import DEFAULT_DATA_ROOT

DEFAULT_EXPERIMENT = "/Shared/bricksml/train_models"
GATE_MODES = ("disabled", "dry_run", "enabled")
_UC_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def model_name_check(value: str) -> str | None:
    """Unity Catalog model names: catalog.schema.model, each part a plain identifier."""
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 3 or not all(_UC_PART.match(p) for p in parts):
        return "a three-level Unity Catalog name catalog.schema.model (letters, digits, '_', '-')"
    return None


def share_check(value: float) -> str | None:
    return None if 0.0 <= value <= 1.0 else "a number between 0 and 1"


@dataclasses.dataclass(frozen=True)
class TrainParams(Contract):
    """What train_models needs: the data version, the model, tracking and the promotion gate."""

    job: ClassVar[str] = "train_models"

    data_name: str = param(help="Data set to train on (a folder under data_root).", check=name_check)
    data_version: str = param(
        help="Data version (split) to train on, as created by create_data.", check=name_check
    )
    data_root: str = param(DEFAULT_DATA_ROOT, help="Root of all data sets (a Unity Catalog volume path).")
    model_name: str = param(
        "",
        help="Registered model, catalog.schema.model. Empty: main.bricksml.<data_name>.",
        check=model_name_check,
    )
    model_type: str = param(
        "logistic_regression", choices=tuple(MODEL_TYPES), help="The classifier to train."
    )
    model_params: dict = param({}, kind="json", help='Estimator parameters as JSON, e.g. {"C": 2.0}.')
    feature_params: dict = param(
        {},
        kind="json",
        help='Feature parameters as JSON, e.g. {"ngram_range": [1, 2], "max_features": 20000}.',
    )
    search: dict = param(
        {},
        kind="json",
        help='Hyperparameter search as JSON, e.g. {"model_params": {"C": [0.5, 2, 8]}, "folds": 3}. '
        "Empty: no search.",
    )
    experiment_name: str = param(
        DEFAULT_EXPERIMENT, help="MLflow experiment (a /Shared/... or /Users/... path)."
    )
    seed: int = param(42, kind="int", help="Random seed of the estimator, the search and the features.")
    gate_mode: str = param(
        "enabled",
        choices=GATE_MODES,
        help="Promotion gate: enabled moves the aliases, dry_run only records, disabled skips it.",
    )
    gate_min_f1: float = param(
        0.5, kind="float", help="Smallest macro-F1 a model needs to be promoted.", check=share_check
    )
    gate_max_drop: float = param(
        0.0,
        kind="float",
        help="Largest macro-F1 drop allowed against the champion (0: at least as good).",
        check=share_check,
    )

    def __post_init__(self) -> None:
        try:
            check_model_params(self.model_type, self.model_params, self.seed)
        except ModelParamError as exc:
            self.fail("model_params", f"valid for model_type {self.model_type!r} ({exc})", self.model_params)
        try:
            check_feature_params(self.feature_params)
        except FeatureParamError as exc:
            self.fail("feature_params", f"valid feature parameters ({exc})", self.feature_params)
        if self.search:
            try:
                search_space.SearchPlan.parse(self.search, self.model_type)
            except search_space.SearchError as exc:
                self.fail("search", f"a valid search ({exc})", self.search)

    @property
    def registered_model_name(self) -> str:
        return self.model_name or f"main.bricksml.{self.data_name.replace('.', '_')}"

    def spec_dict(self) -> dict[str, Any]:
        return {
            "model_type": self.model_type,
            "model_params": self.model_params,
            "feature_params": self.feature_params,
        }
