"""Parameters of the inference job."""

from __future__ import annotations

import dataclasses
import posixpath
from typing import ClassVar

from bricksml.params.base import Contract, name_check, param
from bricksml.params.create_data import DEFAULT_DATA_ROOT
from bricksml.params.train import DEFAULT_MODEL_SCHEMA, default_model_name, model_name_check, schema_check
from bricksml.tracking import model_refs

DEFAULT_EXPERIMENT = "/Shared/bricksml/inference"
SPLITS = ("", "train", "test", "holdout")


def run_id_check(value: str) -> str | None:
    if not value or model_refs.RUN_ID.fullmatch(value):
        return None
    return "an MLflow run id (32 hexadecimal characters)"


def model_uri_check(value: str) -> str | None:
    """The resolver's own parser decides: a URI passes here exactly when it can be looked up."""
    return model_refs.problem(value) if value else None


@dataclasses.dataclass(frozen=True)
class InferenceParams(Contract):
    """Which model scores which data, and where the predictions go.

    The model: ``run_id``, else ``model_uri``, else ``model_name`` at ``model_alias`` (empty:
    the data set's own model, as train_models names it). The input:
    ``input_path``, else the ``split`` of ``data_name``/``data_version``.
    """

    job: ClassVar[str] = "inference"

    run_id: str = param("", help="MLflow run id of the training run (as in a run book).", check=run_id_check)
    model_uri: str = param(
        "",
        help=f"{model_refs.FORMS}.",
        check=model_uri_check,
    )
    model_name: str = param(
        "",
        help="Registered model (catalog.schema.model) at model_alias. Empty: <model_schema>.<data_name>.",
        check=model_name_check,
    )
    model_schema: str = param(
        DEFAULT_MODEL_SCHEMA,
        help="Catalog and schema of the registered model when model_name is empty.",
        check=schema_check,
    )
    model_alias: str = param("champion", help="Alias of model_name to score with.", check=name_check)
    allow_unsafe_model_formats: bool = param(
        False,
        kind="bool",
        help="Load a model stored as pickle or cloudpickle (loading runs code from the file): only for"
        " a model whose registrant you trust. train_models stores skops, which loads without it.",
    )
    data_name: str = param("", help="Data set whose split to score.", check=name_check)
    data_version: str = param("", help="Data version whose split to score.", check=name_check)
    split: str = param("", choices=SPLITS, help="Split to score. Empty: holdout, else test.")
    input_path: str = param("", help="File or folder to score instead (CSV, TSV, Parquet, JSON Lines).")
    input_table: str = param(
        "",
        help="Spark table to score instead, catalog.schema.table (Databricks: mlflow.pyfunc.spark_udf).",
    )
    data_root: str = param(DEFAULT_DATA_ROOT, help="Root of all data sets (a Unity Catalog volume path).")
    output_root: str = param("", help="Where predictions go. Empty: {data_root}/../inference.")
    carry_columns: tuple[str, ...] = param(
        (), kind="list", help="Input columns to copy into the predictions, comma-separated."
    )
    batch_size: int = param(
        50000,
        kind="int",
        help="Rows scored at a time (memory stays flat).",
        check=lambda v: None if v > 0 else "> 0",
    )
    experiment_name: str = param(
        DEFAULT_EXPERIMENT, help="MLflow experiment of the inference runs (metrics when labels are present)."
    )

    def __post_init__(self) -> None:
        if self.run_id and self.model_uri:
            self.fail("model_uri", "empty when run_id is given (one model source)", self.model_uri)
        if not (self.run_id or self.model_uri or self.model_name or self.data_name):
            self.fail(
                "model_name", "given (or run_id, model_uri or data_name) to know which model scores", ""
            )
        if self.input_path and self.input_table:
            self.fail("input_table", "empty when input_path is given (one input)", self.input_table)
        if not (self.input_path or self.input_table) and not (self.data_name and self.data_version):
            self.fail("input_path", "given (or input_table, or data_name and data_version)", "")

    def model_ref(self) -> tuple[model_refs.ModelRef, str]:
        """The model these parameters name, and how they named it (for messages)."""
        return model_refs.chosen(self.run_id, self.model_uri, self.registered_model_name, self.model_alias)

    @property
    def registered_model_name(self) -> str:
        """The model scored at ``model_alias``: the one named, else the data set's own."""
        return self.model_name or default_model_name(self.model_schema, self.data_name)

    @property
    def output_location(self) -> str:
        if self.output_root:
            return self.output_root
        return posixpath.join(posixpath.dirname(self.data_root.rstrip("/")), "inference")
