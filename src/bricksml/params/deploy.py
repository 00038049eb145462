"""Parameters of the deploy task of train_models: the serving endpoint that follows the champion.

The task also reads the train_models parameters (:class:`~bricksml.params.train.TrainParams`) for
the model's name; these are only the endpoint's own, each named ``serving_*`` or
``request_log_*`` so that they sit beside those in one job's parameter list.
"""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar

from bricksml.params.base import Contract, param
from bricksml.params.train import DEFAULT_MODEL_SCHEMA, schema_check

#: ``{model}`` is the registered model's own name (its third part): one endpoint per model.
DEFAULT_ENDPOINT = "bricksml-{model}"
#: Databricks Model Serving's workload sizes of CPU endpoints (concurrency 4, 16, 64).
WORKLOAD_SIZES = ("Small", "Medium", "Large")
#: A serving endpoint's name: letters, digits, '-' and '_', at most 63 characters.
ENDPOINT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_PLACEHOLDER = re.compile(r"{([^}]*)}")


def endpoint_name(pattern: str, model_name: str) -> str:
    """The endpoint ``pattern`` names for ``model_name`` (``{model}`` replaced by its last part)."""
    return pattern.replace("{model}", model_name.rsplit(".", 1)[-1])


def endpoint_check(value: str) -> str | None:
    unknown = set(_PLACEHOLDER.findall(value)) - {"model"}
    if unknown:
        return f"an endpoint name whose only placeholder is {{model}} (not {{{sorted(unknown)[0]}}})"
    # The longest part a model name may contribute is checked when the name is known.
    if not ENDPOINT_NAME.fullmatch(value.replace("{model}", "m")):
        return (
            "an endpoint name of letters, digits, '-' and '_' (at most 63 characters), e.g. bricksml-{model}"
        )
    return None


def endpoint_problem(name: str) -> str | None:
    """Why ``name`` (placeholder replaced) cannot be a serving endpoint's name, if it cannot."""
    if ENDPOINT_NAME.fullmatch(name):
        return None
    return (
        f"endpoint name {name!r}: letters, digits, '-' and '_', starting with a letter or digit, at most 63"
    )


@dataclasses.dataclass(frozen=True)
class DeployParams(Contract):
    """Which endpoint serves the champion, on what compute, who may query it, where it logs."""

    job: ClassVar[str] = "train_models (deploy)"

    serving_endpoint: str = param(
        DEFAULT_ENDPOINT,
        help="Model Serving endpoint that serves the champion; {model} is the model's own name.",
        check=endpoint_check,
    )
    serving_workload_size: str = param(
        "Small", choices=WORKLOAD_SIZES, help="Compute of the served version (concurrency 4, 16 or 64)."
    )
    serving_scale_to_zero: bool = param(
        True, kind="bool", help="Let the endpoint scale to zero when idle (cheap, cold first request)."
    )
    serving_query_group: str = param(
        "users", help="Workspace group given CAN_QUERY on the endpoint. Empty: nobody is added."
    )
    serving_timeout_minutes: int = param(
        40,
        kind="int",
        help="How long to wait for the endpoint to be ready before failing the task.",
        check=lambda v: None if 1 <= v <= 240 else "a whole number of minutes from 1 to 240",
    )
    request_log_schema: str = param(
        DEFAULT_MODEL_SCHEMA,
        help="catalog.schema of the endpoint's inference table (<endpoint>_payload, AI Gateway).",
        check=schema_check,
    )

    def endpoint_for(self, model_name: str) -> str:
        """The endpoint of ``model_name``, refused (naming the parameter) when it cannot be one."""
        name = endpoint_name(self.serving_endpoint, model_name)
        problem = endpoint_problem(name)
        if problem:
            self.fail("serving_endpoint", f"a valid endpoint name for model {model_name} ({problem})", name)
        return name

    @property
    def log_catalog(self) -> str:
        return self.request_log_schema.split(".")[0]

    @property
    def log_schema(self) -> str:
        return self.request_log_schema.split(".")[1]
