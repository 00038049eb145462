"""Parameters of the monitor job: which model, which reference, which window, thresholds and actions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import posixpath
from typing import ClassVar

from bricksml.params.base import Contract, name_check, param
from bricksml.params.create_data import DEFAULT_DATA_ROOT
from bricksml.params.deploy import DEFAULT_ENDPOINT, endpoint_check
from bricksml.params.inference import model_uri_check, run_id_check
from bricksml.params.train import DEFAULT_MODEL_SCHEMA, default_model_name, model_name_check, schema_check

DEFAULT_EXPERIMENT = "/Shared/bricksml/monitoring"
ON_ALERT = ("report", "fail")
ON_DRIFT = ("report", "retrain")
ON_DEGRADATION = ("report", "rollback")
#: The window when neither end is given: the day before the run.
DEFAULT_WINDOW = dt.timedelta(days=1)


def moment(value: str) -> dt.datetime | None:
    """An ISO date or date-time as UTC (naive means UTC); None for an empty value."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (
        parsed.replace(tzinfo=dt.timezone.utc)
        if parsed.tzinfo is None
        else parsed.astimezone(dt.timezone.utc)
    )


def moment_check(value: str) -> str | None:
    try:
        moment(value)
    except ValueError:
        return "an ISO date or date-time such as 2025-03-01 or 2025-03-01T06:00:00Z"
    return None


def share_check(value: float) -> str | None:
    return None if 0.0 <= value <= 1.0 else "a number between 0 and 1"


def positive_check(value: float) -> str | None:
    return None if value > 0 else "a number above 0"


def _threshold(default: float, what: str, check=positive_check) -> float:
    return param(default, kind="float", help=what, check=check)


@dataclasses.dataclass(frozen=True)
class MonitorParams(Contract):
    """The model version to watch (as inference names it), its reference, the window, the thresholds
    (effect sizes: a PSI, a share, a drop) and what to do about the decision."""

    job: ClassVar[str] = "monitor"

    run_id: str = param(
        "", help="MLflow run id of the training run of the version to watch.", check=run_id_check
    )
    model_uri: str = param("", help="Model URI of the version to watch.", check=model_uri_check)
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
    model_alias: str = param("champion", help="Alias of model_name to watch.", check=name_check)
    allow_unsafe_model_formats: bool = param(
        False,
        kind="bool",
        help="Load a model stored as pickle or cloudpickle (loading runs code from the file): only for"
        " a model whose registrant you trust.",
    )
    data_name: str = param(
        "", help="Data set whose model to watch when model_name is empty.", check=name_check
    )
    reference_data_name: str = param(
        "", help="Data set of the reference. Empty: the version's own (its lineage tags).", check=name_check
    )
    reference_data_version: str = param(
        "", help="Data version of the reference. Empty: the one the version was trained on.", check=name_check
    )
    data_root: str = param(DEFAULT_DATA_ROOT, help="Root of all data sets (a Unity Catalog volume path).")
    output_root: str = param(
        "", help="Where the inference outputs are, and the reports go. Empty: {data_root}/../inference."
    )
    since: str = param(
        "", help="Start of the window (ISO, UTC). Empty: one day before until.", check=moment_check
    )
    until: str = param("", help="End of the window, excluded (ISO, UTC). Empty: now.", check=moment_check)
    input_path: str = param(
        "", help="File or folder to monitor instead of the window's outputs (an inference output folder too)."
    )
    input_table: str = param(
        "", help="Table to monitor instead of the window's outputs, catalog.schema.table."
    )
    serving_endpoint: str = param(
        DEFAULT_ENDPOINT,
        help="Serving endpoint whose request log joins the window ({model}: the model's own name)."
        " Empty: batch outputs only.",
        check=lambda v: endpoint_check(v) if v else None,
    )
    request_log_schema: str = param(
        "",
        help="catalog.schema of the endpoint's request log (<endpoint>_payload). Empty: the model's own.",
        check=lambda v: schema_check(v) if v else None,
    )
    labels_path: str = param(
        "", help="File or folder of labels for the window's rows (id and label columns)."
    )
    labels_table: str = param("", help="Table of labels for the window's rows, catalog.schema.table.")
    id_col: str = param("", help="Column the labels join on. Empty: the version's id column.")
    label_col: str = param("", help="Label column of the labels. Empty: the version's label column.")
    psi_warning: float = _threshold(0.1, "PSI of a feature or of the predictions from which to warn.")
    psi_alert: float = _threshold(0.25, "PSI of a feature or of the predictions from which to alert.")
    missing_warning: float = _threshold(
        0.05, "Rise in a column's share of missing values to warn at.", share_check
    )
    missing_alert: float = _threshold(
        0.2, "Rise in a column's share of missing values to alert at.", share_check
    )
    new_category_warning: float = _threshold(
        0.01, "Share of rows with unseen categories to warn at.", share_check
    )
    new_category_alert: float = _threshold(
        0.05, "Share of rows with unseen categories to alert at.", share_check
    )
    oov_warning: float = _threshold(
        0.05, "Rise in the share of words the model does not know to warn at.", share_check
    )
    oov_alert: float = _threshold(
        0.15, "Rise in the share of words the model does not know to alert at.", share_check
    )
    confidence_warning: float = _threshold(
        0.05, "Drop of the mean predicted-class probability to warn at.", share_check
    )
    confidence_alert: float = _threshold(
        0.1, "Drop of the mean predicted-class probability to alert at.", share_check
    )
    performance_warning: float = _threshold(
        0.02, "Drop of the gate metric from the version's gate score to warn at."
    )
    performance_alert: float = _threshold(
        0.05, "Drop of the gate metric from the version's gate score to alert at."
    )
    error_warning: float = _threshold(0.01, "Share of failed serving requests to warn at.", share_check)
    error_alert: float = _threshold(0.05, "Share of failed serving requests to alert at.", share_check)
    min_rows: int = param(
        100,
        kind="int",
        help="Rows below which a window is too small to judge (a warning).",
        check=lambda v: None if v >= 1 else "a whole number from 1",
    )
    on_alert: str = param("report", choices=ON_ALERT, help="fail: end the task with a failure on an alert.")
    on_drift: str = param(
        "report", choices=ON_DRIFT, help="retrain: on a drift alert, ask the job's retrain task to run."
    )
    on_degradation: str = param(
        "report",
        choices=ON_DEGRADATION,
        help="rollback: move champion back to the previous champion when, on the window's labels,"
        " the watched champion scores worse than it by more than max_drop.",
    )
    max_drop: float = _threshold(0.05, "How much worse than the previous champion the champion may score.")
    retrain_data_version: str = param(
        "", help="Data version a retrain creates. Empty: <reference version>-r<window end>.", check=name_check
    )
    experiment_name: str = param(DEFAULT_EXPERIMENT, help="MLflow experiment of the monitoring runs.")
    seed: int = param(
        0,
        kind="int",
        help="Seed of the samples text statistics are drawn on.",
        check=lambda v: None if v >= 0 else ">= 0",
    )

    def __post_init__(self) -> None:
        if self.run_id and self.model_uri:
            self.fail("model_uri", "empty when run_id is given (one model source)", self.model_uri)
        if not (self.run_id or self.model_uri or self.model_name or self.data_name):
            self.fail(
                "model_name", "given (or run_id, model_uri or data_name) to know which model to watch", ""
            )
        if self.input_path and self.input_table:
            self.fail("input_table", "empty when input_path is given (one window)", self.input_table)
        if self.labels_path and self.labels_table:
            self.fail(
                "labels_table", "empty when labels_path is given (one source of labels)", self.labels_table
            )
        if bool(self.reference_data_name) != bool(self.reference_data_version) and self.reference_data_name:
            self.fail("reference_data_version", "given with reference_data_name", "")
        for name in ("psi", "missing", "new_category", "oov", "confidence", "performance", "error"):
            warning, alert = getattr(self, f"{name}_warning"), getattr(self, f"{name}_alert")
            if warning > alert:
                self.fail(f"{name}_warning", f"at most {name}_alert ({alert:g})", warning)
        since, until = self.window
        if since >= until:
            self.fail("since", f"before until ({until.isoformat()})", self.since)

    @property
    def window(self) -> tuple[dt.datetime, dt.datetime]:
        """``[since, until)`` in UTC; by default the day before now."""
        until = moment(self.until) or dt.datetime.now(dt.timezone.utc)
        return moment(self.since) or until - DEFAULT_WINDOW, until

    @property
    def registered_model_name(self) -> str:
        return self.model_name or default_model_name(self.model_schema, self.data_name)

    @property
    def output_location(self) -> str:
        if self.output_root:
            return self.output_root
        return posixpath.join(posixpath.dirname(self.data_root.rstrip("/")), "inference")
