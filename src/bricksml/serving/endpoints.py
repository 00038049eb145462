"""A Databricks Model Serving endpoint that serves one Unity Catalog model version, through the SDK.

:func:`ensure` creates the endpoint or points it at the version, waits until Databricks says it is
ready, keeps its AI Gateway inference table and its ``CAN_QUERY`` grant in place, and fails with
one line when the update fails, in which case Databricks keeps the previous version serving.
Everything takes a ``WorkspaceClient``: authentication is the SDK's, and tests hand in a client
pointed at a local fake of the serving-endpoints API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError, NotFound
from databricks.sdk.service import serving

from bricksml.errors import WorkspaceError, first_line
from bricksml.serving.request_log import TABLE_SUFFIX, table_prefix

_IN_PROGRESS = serving.EndpointStateConfigUpdate.IN_PROGRESS
_FAILED = (serving.EndpointStateConfigUpdate.UPDATE_FAILED, serving.EndpointStateConfigUpdate.UPDATE_CANCELED)
_READY = serving.EndpointStateReady.READY
_QUERY = serving.ServingEndpointPermissionLevel.CAN_QUERY
_ENOUGH = {
    serving.ServingEndpointPermissionLevel.CAN_QUERY,
    serving.ServingEndpointPermissionLevel.CAN_MANAGE,
}


class DeployError(WorkspaceError):
    """The endpoint could not be made to serve the version; whatever served before still does."""


@dataclass(frozen=True)
class EndpointSpec:
    """What the endpoint should serve. ``None`` keeps the endpoint's own setting (an update only)."""

    name: str
    model_name: str
    version: str
    workload_size: str | None = None
    scale_to_zero: bool | None = None
    log_catalog: str | None = None
    log_schema: str | None = None
    query_group: str | None = None

    @property
    def entity_name(self) -> str:
        """The served entity's name: the model's own name and the version, as Databricks' default."""
        return f"{self.model_name.rsplit('.', 1)[-1]}-{self.version}"[:63]

    @property
    def inference_table(self) -> str | None:
        if not (self.log_catalog and self.log_schema):
            return None
        return f"{self.log_catalog}.{self.log_schema}.{table_prefix(self.name)}{TABLE_SUFFIX}"


@dataclass
class EndpointOutcome:
    """What :func:`ensure` did."""

    endpoint: str
    action: str  # created | updated | unchanged
    served_version: str
    previous_version: str | None
    inference_table: str | None
    permissions: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def served_versions(endpoint: serving.ServingEndpointDetailed, model_name: str) -> list[str]:
    """The versions of ``model_name`` the endpoint's live config serves."""
    entities = (endpoint.config.served_entities if endpoint.config else None) or []
    return [str(e.entity_version) for e in entities if e.entity_name == model_name]


def ensure(
    client: WorkspaceClient,
    spec: EndpointSpec,
    *,
    create: bool = True,
    timeout: float = 2400.0,
    poll: float = 10.0,
    report: Callable[[str], None] = lambda line: None,
) -> EndpointOutcome:
    """Make endpoint ``spec.name`` serve ``spec.model_name`` v``spec.version`` and wait until it does."""
    started = time.monotonic()
    deadline = started + timeout
    endpoint = _get(client, spec.name)
    if endpoint is None:
        if not create:
            raise DeployError(
                f"serving endpoint {spec.name!r} does not exist; the train_models deploy task creates it"
            )
        report(f"creating serving endpoint {spec.name} for {spec.model_name} v{spec.version}")
        _call(
            f"create serving endpoint {spec.name}",
            lambda: client.serving_endpoints.create(
                spec.name,
                config=serving.EndpointCoreConfigInput(name=spec.name, served_entities=[_entity(spec, None)]),
                ai_gateway=serving.AiGatewayConfig(inference_table_config=_table(spec))
                if _table(spec)
                else None,
                tags=[serving.EndpointTag(key="bricksml_model", value=spec.model_name)],
            ),
        )
        endpoint = _wait(client, spec, deadline, poll, report, previous=None)
        action, previous = "created", None
    else:
        if endpoint.state and endpoint.state.config_update == _IN_PROGRESS:
            report(f"endpoint {spec.name} is being updated by someone else; waiting for that first")
            endpoint = _wait(client, spec, deadline, poll, report, previous=None, ours=False)
        serving_now = served_versions(endpoint, spec.model_name)
        previous = serving_now[0] if serving_now else _describe(endpoint)
        if serving_now == [spec.version] and _ready(endpoint):
            action = "unchanged"
        else:
            report(f"pointing endpoint {spec.name} at {spec.model_name} v{spec.version} (was {previous})")
            current = _current_entity(endpoint)
            _call(
                f"update the config of serving endpoint {spec.name}",
                lambda: client.serving_endpoints.update_config(
                    spec.name,
                    served_entities=[_entity(spec, current)],
                    traffic_config=serving.TrafficConfig(
                        routes=[serving.Route(served_entity_name=spec.entity_name, traffic_percentage=100)]
                    ),
                ),
            )
            endpoint = _wait(client, spec, deadline, poll, report, previous=previous)
            action = "updated"
    table = _keep_inference_table(client, spec, endpoint, report)
    permissions = _grant_query(client, spec, endpoint, report)
    return EndpointOutcome(
        endpoint=spec.name,
        action=action,
        served_version=spec.version,
        previous_version=previous,
        inference_table=table,
        permissions=permissions,
        seconds=round(time.monotonic() - started, 3),
    )


def _entity(spec: EndpointSpec, current: serving.ServedEntityOutput | None) -> serving.ServedEntityInput:
    size = spec.workload_size or (current.workload_size if current else None) or "Small"
    scale = spec.scale_to_zero
    if scale is None:
        scale = (
            bool(current.scale_to_zero_enabled)
            if current and current.scale_to_zero_enabled is not None
            else True
        )
    return serving.ServedEntityInput(
        name=spec.entity_name,
        entity_name=spec.model_name,
        entity_version=spec.version,
        workload_size=size,
        scale_to_zero_enabled=scale,
    )


def _current_entity(endpoint: serving.ServingEndpointDetailed) -> serving.ServedEntityOutput | None:
    entities = (endpoint.config.served_entities if endpoint.config else None) or []
    return entities[0] if entities else None


def _table(spec: EndpointSpec) -> serving.AiGatewayInferenceTableConfig | None:
    if not (spec.log_catalog and spec.log_schema):
        return None
    return serving.AiGatewayInferenceTableConfig(
        catalog_name=spec.log_catalog,
        schema_name=spec.log_schema,
        table_name_prefix=table_prefix(spec.name),
        enabled=True,
    )


def _ready(endpoint: serving.ServingEndpointDetailed) -> bool:
    state = endpoint.state
    return bool(state and state.ready == _READY and state.config_update not in (_IN_PROGRESS,))


def _describe(endpoint: serving.ServingEndpointDetailed) -> str | None:
    entities = (endpoint.config.served_entities if endpoint.config else None) or []
    listed = ", ".join(f"{e.entity_name} v{e.entity_version}" for e in entities)
    return listed or None


def _wait(
    client: WorkspaceClient,
    spec: EndpointSpec,
    deadline: float,
    poll: float,
    report: Callable[[str], None],
    previous: str | None,
    ours: bool = True,
) -> serving.ServingEndpointDetailed:
    """Poll until the endpoint's update ends; our update failing is a :class:`DeployError`."""
    reason = ""
    while True:
        endpoint = _get(client, spec.name)
        if endpoint is None:
            raise DeployError(f"serving endpoint {spec.name!r} disappeared while being updated")
        state = endpoint.state or serving.EndpointState()
        pending = endpoint.pending_config.served_entities if endpoint.pending_config else None
        for entity in pending or []:
            if entity.state and entity.state.deployment_state_message:
                reason = entity.state.deployment_state_message
        if state.config_update in _FAILED:
            if not ours:
                return endpoint
            what = state.config_update.value.lower().replace("_", " ")
            still = (
                f"v{previous} is still serving"
                if previous and previous.isdigit()
                else (f"{previous} is still serving" if previous else "nothing was serving before")
            )
            raise DeployError(
                f"serving endpoint {spec.name}: the update to {spec.model_name} v{spec.version} ended"
                f" {what} ({reason or 'Databricks gave no reason'}); {still}. See the endpoint's events"
                " in the Serving UI"
            )
        if state.config_update != _IN_PROGRESS and state.ready == _READY:
            return endpoint
        if time.monotonic() > deadline:
            raise DeployError(
                f"serving endpoint {spec.name} was not ready in time (ready: {_value(state.ready)}, update:"
                f" {_value(state.config_update)}); Databricks keeps updating it and the previous version"
                " serves meanwhile; raise serving_timeout_minutes or look at the Serving UI"
            )
        report(f"endpoint {spec.name}: ready {_value(state.ready)}, update {_value(state.config_update)}")
        time.sleep(poll)


def _keep_inference_table(
    client: WorkspaceClient,
    spec: EndpointSpec,
    endpoint: serving.ServingEndpointDetailed,
    report: Callable[[str], None],
) -> str | None:
    """The AI Gateway inference table of the endpoint, configured as ``spec`` says if it is not."""
    wanted = _table(spec)
    gateway = endpoint.ai_gateway or serving.AiGatewayConfig()
    have = gateway.inference_table_config
    if wanted is None:
        if have and have.enabled and have.catalog_name and have.schema_name:
            return f"{have.catalog_name}.{have.schema_name}.{have.table_name_prefix}{TABLE_SUFFIX}"
        return None
    same = have is not None and (
        have.enabled,
        have.catalog_name,
        have.schema_name,
        have.table_name_prefix,
    ) == (
        True,
        wanted.catalog_name,
        wanted.schema_name,
        wanted.table_name_prefix,
    )
    if not same:
        report(f"endpoint {spec.name}: logging requests to {spec.inference_table}")
        _call(
            f"set the inference table of serving endpoint {spec.name}",
            lambda: client.serving_endpoints.put_ai_gateway(
                spec.name,
                inference_table_config=wanted,
                guardrails=gateway.guardrails,
                rate_limits=gateway.rate_limits,
                usage_tracking_config=gateway.usage_tracking_config,
                fallback_config=gateway.fallback_config,
            ),
        )
    return spec.inference_table


def _grant_query(
    client: WorkspaceClient,
    spec: EndpointSpec,
    endpoint: serving.ServingEndpointDetailed,
    report: Callable[[str], None],
) -> list[str]:
    """``CAN_QUERY`` for ``spec.query_group`` on the endpoint (added only when it lacks it)."""
    group = spec.query_group
    if not group:
        return []
    if not endpoint.id:
        raise DeployError(f"serving endpoint {spec.name}: the workspace gave no endpoint id to grant on")
    acl = _call(
        f"read the permissions of serving endpoint {spec.name}",
        lambda: client.serving_endpoints.get_permissions(endpoint.id),
    )
    for entry in acl.access_control_list or []:
        if entry.group_name == group and any(
            p.permission_level in _ENOUGH for p in entry.all_permissions or []
        ):
            return [f"group {group} can query (already)"]
    report(f"endpoint {spec.name}: CAN_QUERY for group {group}")
    _call(
        f"grant CAN_QUERY on serving endpoint {spec.name}",
        lambda: client.serving_endpoints.update_permissions(
            endpoint.id,
            access_control_list=[
                serving.ServingEndpointAccessControlRequest(group_name=group, permission_level=_QUERY)
            ],
        ),
    )
    return [f"group {group} can query (granted)"]


def _get(client: WorkspaceClient, name: str) -> serving.ServingEndpointDetailed | None:
    try:
        return client.serving_endpoints.get(name)
    except NotFound:
        return None
    except DatabricksError as exc:
        raise DeployError(f"cannot read serving endpoint {name}: {first_line(exc, limit=300)}") from None


def _call(what: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except DatabricksError as exc:
        code = getattr(exc, "error_code", None) or type(exc).__name__
        raise DeployError(f"the workspace refused to {what}: {code}: {first_line(exc, limit=300)}") from None


def _value(value: Any) -> str:
    return str(getattr(value, "value", value))
