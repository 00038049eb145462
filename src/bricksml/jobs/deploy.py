"""The deploy task, third of train_models: the serving endpoint follows the champion.

On Databricks it makes the Model Serving endpoint serve the version ``champion`` points at: it
creates the endpoint the first time (served entity = the Unity Catalog version, the workload size
and scale-to-zero of the parameters, the AI Gateway inference table in the bundle's schema,
``CAN_QUERY`` for a group), updates it when the gate made a new champion (or a rollback moved it),
and waits until it is ready. A failed update fails the task and Databricks keeps the previous
version serving. When the endpoint already serves the champion there is nothing to do, and the
result says so. The endpoint is made here and not declared in the bundle: a bundle that declares
it cannot be deployed to a workspace whose model has no version yet.

Locally there is no endpoint to create: ``bricksml serve`` follows the alias itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bricksml import runtime
from bricksml.params.deploy import DeployParams
from bricksml.progress import SILENT, Progress
from bricksml.serving import request_log
from bricksml.tracking import registry, setup
from bricksml.tracking.registry import CHAMPION

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

#: The gate's decision that made a new champion (``bricksml.jobs.validate_model``).
PROMOTED = "promoted"


@dataclass
class DeployResult:
    """What the deploy task did, and why."""

    action: str  # created | updated | unchanged | nothing (no champion) | local
    where: str  # databricks | local
    model_name: str
    champion_version: str | None
    gate_decision: str | None
    endpoint: str
    request_log_table: str
    message: str
    previous_version: str | None = None
    permissions: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def deploy_champion(
    model_name: str,
    params: DeployParams,
    *,
    gate_decision: str | None = None,
    client: WorkspaceClient | None = None,
    poll_seconds: float = 10.0,
    progress: Progress = SILENT,
) -> DeployResult:
    """Make the endpoint of ``model_name`` serve its champion (on Databricks, or with ``client``).

    ``gate_decision`` defaults to what this job run's validate task decided (a task value).
    """
    started = time.perf_counter()
    setup.configure()
    decision = gate_decision or _task_value()
    endpoint = params.endpoint_for(model_name)
    table = request_log.table_name(params.log_catalog, params.log_schema, endpoint)
    champion = registry.version_by_alias(model_name, CHAMPION)
    number = str(champion.version) if champion is not None else None
    news = _news(decision, number)
    where = "databricks" if client is not None or runtime.on_databricks() else "local"

    def result(action: str, message: str, **extra: Any) -> DeployResult:
        progress.step(message)
        return DeployResult(
            action=action,
            where=where,
            model_name=model_name,
            champion_version=number,
            gate_decision=decision,
            endpoint=endpoint,
            request_log_table=table,
            message=message,
            seconds=round(time.perf_counter() - started, 3),
            **extra,
        )

    if number is None:
        return result("nothing", f"{news}: model {model_name} has no champion, there is nothing to serve")
    if where == "local":
        return result(
            "local",
            f"{news}; locally there is no endpoint to create: `bricksml serve --model-name {model_name}`"
            f" follows @champion (now v{number}) by itself and logs its requests to {table}",
        )
    from bricksml.serving import endpoints
    from bricksml.workspace import jobs

    spec = endpoints.EndpointSpec(
        name=endpoint,
        model_name=model_name,
        version=number,
        workload_size=params.serving_workload_size,
        scale_to_zero=params.serving_scale_to_zero,
        log_catalog=params.log_catalog,
        log_schema=params.log_schema,
        query_group=params.serving_query_group or None,
    )
    outcome = endpoints.ensure(
        client or jobs.connect(),
        spec,
        timeout=params.serving_timeout_minutes * 60.0,
        poll=poll_seconds,
        report=progress.step,
    )
    messages = {
        "created": f"{news}: created serving endpoint {endpoint}, serving v{number}",
        "updated": f"{news}: endpoint {endpoint} now serves v{number} (was {outcome.previous_version})",
        "unchanged": f"{news}: endpoint {endpoint} already serves v{number}, nothing to deploy",
    }
    return result(
        outcome.action,
        messages[outcome.action],
        previous_version=outcome.previous_version,
        permissions=outcome.permissions,
    )


def _task_value() -> str | None:
    value = runtime.get_task_value("validate", "gate_decision")
    return None if value is None else str(value)


def _news(decision: str | None, champion: str | None) -> str:
    if decision == PROMOTED:
        return f"the gate made v{champion} champion"
    if decision:
        return f"no new champion (gate: {decision})"
    return "no gate decision in this run"
