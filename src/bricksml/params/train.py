"""Parameters of the train_models job (both of its tasks: train and validate).

The model, feature and search checks need scikit-learn; they load when there is something to check,
so that a command line is parsed (and a mistake refused) without it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar

from bricksml.errors import FeatureParamError, ModelParamError, SearchError
from bricksml.models.types import MODEL_TYPES
from bricksml.params.base import Contract, name_check, param
from bricksml.params.create_data import DEFAULT_DATA_ROOT

#: Each data set gets its own experiment, so the MLflow UI never mixes their runs.
DEFAULT_EXPERIMENT = "/Shared/bricksml/{data_name}"
DEFAULT_MODEL_SCHEMA = "main.bricksml"
GATE_MODES = ("disabled", "dry_run", "enabled")
GATE_TIES = ("keep_champion", "promote")
_UC_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def model_name_check(value: str) -> str | None:
    """Unity Catalog model names: catalog.schema.model, each part a plain identifier."""
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 3 or not all(_UC_PART.match(p) for p in parts):
        return "a three-level Unity Catalog name catalog.schema.model (letters, digits, '_', '-')"
    return None


def schema_check(value: str) -> str | None:
    """A Unity Catalog schema as catalog.schema, the home of models named after their data set."""
    parts = value.split(".")
    if len(parts) != 2 or not all(_UC_PART.match(p) for p in parts):
        return "a two-level Unity Catalog name catalog.schema (letters, digits, '_', '-')"
    return None


def default_model_name(model_schema: str, data_name: str) -> str:
    """The registered model of a data set when none is named: one model per data set."""
    return f"{model_schema}.{data_name.replace('.', '_')}"


def experiment_check(value: str) -> str | None:
    unknown = set(re.findall(r"{([^}]*)}", value)) - {"data_name"}
    return (
        f"a path whose only placeholder is {{data_name}} (not {{{sorted(unknown)[0]}}})" if unknown else None
    )


def share_check(value: float) -> str | None:
    return None if 0.0 <= value <= 1.0 else "a number between 0 and 1"


def confidence_check(value: float) -> str | None:
    return None if 0.5 <= value < 1.0 else "a confidence level from 0.5 up to (not including) 1, e.g. 0.95"


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
        help="Registered model, catalog.schema.model. Empty: <model_schema>.<data_name>.",
        check=model_name_check,
    )
    model_schema: str = param(
        DEFAULT_MODEL_SCHEMA,
        help="Catalog and schema of the registered model when model_name is empty.",
        check=schema_check,
    )
    allow_other_data: bool = param(
        False,
        kind="bool",
        help="Register into a model whose versions were trained on another data set or label.",
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
        DEFAULT_EXPERIMENT,
        help="MLflow experiment (a /Shared/... or /Users/... path); {data_name} is replaced.",
        check=experiment_check,
    )
    git_commit: str = param(
        "",
        help="Commit of the code, for the lineage (a bundle job passes ${bundle.git.commit}). "
        "Empty: the working copy's.",
    )
    bundle_target: str = param(
        "",
        help="Bundle target the run belongs to (a bundle job passes ${bundle.target}). Empty: local.",
    )
    seed: int = param(
        42,
        kind="int",
        help="Random seed of the estimator, the search and the features.",
        check=lambda v: None if 0 <= v < 2**32 else "a whole number from 0 to 4294967295",
    )
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
        help="Largest macro-F1 drop allowed against the champion (0: it must be better).",
        check=share_check,
    )
    gate_baseline_margin: float = param(
        0.05,
        kind="float",
        help="Lead over the best trivial baseline (most frequent class, stratified guess) a model needs.",
        check=share_check,
    )
    gate_confidence: float = param(
        0.95,
        kind="float",
        help="Confidence of the interval of the difference to the champion (paired bootstrap).",
        check=confidence_check,
    )
    gate_tie: str = param(
        "keep_champion",
        choices=GATE_TIES,
        help="A challenger the interval cannot tell from the champion: keep_champion, or promote.",
    )

    def __post_init__(self) -> None:
        # Empty model and feature parameters mean the defaults, which are valid for every model
        # type and seed (tests/test_startup.py checks it): nothing to check, no scikit-learn to load.
        if self.model_params:
            from bricksml.models.pipeline import check_model_params

            try:
                check_model_params(self.model_type, self.model_params, self.seed)
            except ModelParamError as exc:
                self.fail(
                    "model_params", f"valid for model_type {self.model_type!r} ({exc})", self.model_params
                )
        if self.feature_params:
            from bricksml.models.pipeline import check_feature_params

            try:
                check_feature_params(self.feature_params)
            except FeatureParamError as exc:
                self.fail("feature_params", f"valid feature parameters ({exc})", self.feature_params)
        if self.search:
            from bricksml.models import search as search_space

            try:
                search_space.SearchPlan.parse(self.search, self.model_type)
            except SearchError as exc:
                self.fail("search", f"a valid search ({exc})", self.search)

    @property
    def registered_model_name(self) -> str:
        return self.model_name or default_model_name(self.model_schema, self.data_name)

    @property
    def experiment(self) -> str:
        """The experiment path with the data set's name in place of {data_name}."""
        return self.experiment_name.replace("{data_name}", self.data_name)

    def spec_dict(self) -> dict[str, Any]:
        return {
            "model_type": self.model_type,
            "model_params": self.model_params,
            "feature_params": self.feature_params,
        }
