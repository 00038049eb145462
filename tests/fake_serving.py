"""A fake of Databricks' serving-endpoints REST API on 127.0.0.1, answering in the API's shapes.

It keeps endpoints the way the workspace does: a create or a config update starts a pending config
(``config_update: IN_PROGRESS``) that settles after ``steps`` reads of the endpoint, into the live
config (``NOT_UPDATING``, ``READY``) or, for a version listed in ``failing``, into
``UPDATE_FAILED`` with the previous config still live. A second update while one is in progress is
refused (409 ``RESOURCE_CONFLICT``), as the workspace refuses it; so is a create of an existing name.
Permissions (``/api/2.0/permissions/serving-endpoints/<id>``) and the AI Gateway config are kept too,
and ``invocations`` are forwarded to a real server (``backend``), the way a served model answers.
Every request is recorded with the token it carried; a call the fake does not know is a 404 listed
in ``unknown``.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from databricks.sdk.service import serving

WORKLOADS = ("Small", "Medium", "Large")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class _Endpoint:
    id: str
    name: str
    creator: str
    created: int
    config: dict | None = None  # EndpointCoreConfigOutput as a dict
    pending: dict | None = None  # EndpointPendingConfig as a dict
    steps_left: int = 0
    failing: bool = False
    update: str = "IN_PROGRESS"
    ready: str = "NOT_READY"
    ai_gateway: dict = field(default_factory=dict)
    tags: list = field(default_factory=list)
    config_version: int = 0
    acl: dict[str, str] = field(default_factory=dict)  # group -> permission level

    def detailed(self) -> dict:
        return serving.ServingEndpointDetailed(
            id=self.id,
            name=self.name,
            creator=self.creator,
            creation_timestamp=self.created,
            last_updated_timestamp=int(time.time() * 1000),
            state=serving.EndpointState(
                config_update=serving.EndpointStateConfigUpdate(self.update),
                ready=serving.EndpointStateReady(self.ready),
            ),
            config=serving.EndpointCoreConfigOutput.from_dict(self.config) if self.config else None,
            pending_config=serving.EndpointPendingConfig.from_dict(self.pending) if self.pending else None,
            ai_gateway=serving.AiGatewayConfig.from_dict(self.ai_gateway) if self.ai_gateway else None,
            tags=[serving.EndpointTag.from_dict(t) for t in self.tags] or None,
            permission_level=serving.ServingEndpointDetailedPermissionLevel.CAN_MANAGE,
        ).as_dict()


@dataclass
class FakeServing:
    """The workspace's serving endpoints, the requests it received, and its HTTP server."""

    token: str = "dapi-serving-test"
    user: str = "deployer@example.com"
    steps: int = 2
    failing: set[str] = field(default_factory=set)  # versions whose deployment fails
    backend: str | None = None  # a real server that answers invocations
    endpoints: dict[str, _Endpoint] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the HTTP side -------------------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = raw.decode(errors="replace")
                auth = self.headers.get("Authorization", "")
                status, answer = fake.handle(method, self.path.split("?")[0], body, auth)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def do_PUT(self) -> None:
                self._answer("PUT")

            def do_PATCH(self) -> None:
                self._answer("PATCH")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, method: str, path: str, body: Any, auth: str) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((method, path, body))
            if auth != f"Bearer {self.token}":
                return 401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."}
            try:
                for verb, pattern, handler in _ROUTES:
                    found = re.fullmatch(pattern, path)
                    if verb == method and found:
                        return 200, handler(self, body, **found.groupdict())
            except ApiError as err:
                return err.status, {"error_code": err.code, "message": err.message}
            self.unknown.append(f"{method} {path}")
            return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"No API found for '{method} {path}'"}

    # --- what a test asks ----------------------------------------------------------------------
    def calls(self, method: str, pattern: str) -> list[Any]:
        return [body for m, p, body in self.requests if m == method and re.fullmatch(pattern, p)]

    def served(self, name: str) -> list[tuple[str, str]]:
        config = self.endpoints[name].config or {}
        return [(e["entity_name"], e["entity_version"]) for e in config.get("served_entities", [])]

    # --- the API -------------------------------------------------------------------------------
    def _endpoint(self, name: str) -> _Endpoint:
        if name not in self.endpoints:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Endpoint with name '{name}' does not exist.")
        return self.endpoints[name]

    def _pending(self, endpoint: _Endpoint, entities: list[dict], traffic: dict | None) -> None:
        if not entities:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "At least one served entity must be specified.")
        outputs = []
        for entity in entities:
            for key in ("entity_name", "entity_version", "workload_size"):
                if not entity.get(key):
                    raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Missing required field '{key}'.")
            if entity["workload_size"] not in WORKLOADS:
                raise ApiError(
                    400, "INVALID_PARAMETER_VALUE", f"Invalid workload size {entity['workload_size']}."
                )
            if "scale_to_zero_enabled" not in entity:
                raise ApiError(
                    400, "INVALID_PARAMETER_VALUE", "Missing required field 'scale_to_zero_enabled'."
                )
            failing = str(entity["entity_version"]) in self.failing
            outputs.append(
                {
                    **entity,
                    "name": entity.get("name")
                    or f"{entity['entity_name'].split('.')[-1]}-{entity['entity_version']}",
                    "creator": self.user,
                    "creation_timestamp": int(time.time() * 1000),
                    "state": {
                        "deployment": "DEPLOYMENT_CREATING",
                        "deployment_state_message": "Creating the container image"
                        if not failing
                        else "Container image build failed: model dependencies could not be installed",
                    },
                }
            )
            endpoint.failing = endpoint.failing or failing
        endpoint.config_version += 1
        endpoint.pending = {
            "served_entities": outputs,
            "config_version": endpoint.config_version,
            "start_time": int(time.time() * 1000),
            "traffic_config": traffic
            or {"routes": [{"served_model_name": outputs[0]["name"], "traffic_percentage": 100}]},
        }
        endpoint.update, endpoint.steps_left = "IN_PROGRESS", self.steps

    def _advance(self, endpoint: _Endpoint) -> None:
        """One read of an updating endpoint: one step closer to the end of its update."""
        if endpoint.update != "IN_PROGRESS":
            return
        endpoint.steps_left -= 1
        if endpoint.steps_left > 0:
            return
        if endpoint.failing:
            endpoint.update = "UPDATE_FAILED"
        else:
            pending = endpoint.pending or {}
            for entity in pending.get("served_entities", []):
                entity["state"] = {"deployment": "DEPLOYMENT_READY", "deployment_state_message": ""}
            endpoint.config = {
                "served_entities": pending.get("served_entities", []),
                "traffic_config": pending.get("traffic_config"),
                "config_version": pending.get("config_version"),
            }
            endpoint.update, endpoint.ready = "NOT_UPDATING", "READY"
        endpoint.pending, endpoint.failing = None, False

    def create(self, body: dict) -> dict:
        name = body.get("name") or ""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}", name):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Invalid endpoint name '{name}'.")
        if name in self.endpoints:
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Endpoint with name '{name}' already exists.")
        config = body.get("config") or {}
        endpoint = _Endpoint(
            id=uuid.uuid4().hex, name=name, creator=self.user, created=int(time.time() * 1000)
        )
        self._pending(endpoint, config.get("served_entities") or [], config.get("traffic_config"))
        gateway = body.get("ai_gateway") or {}
        _check_table(gateway.get("inference_table_config"))
        endpoint.ai_gateway = gateway
        endpoint.tags = body.get("tags") or []
        endpoint.acl = {}
        self.endpoints[name] = endpoint
        return endpoint.detailed()

    def get(self, name: str) -> dict:
        endpoint = self._endpoint(name)
        self._advance(endpoint)
        return endpoint.detailed()

    def update_config(self, body: dict, name: str) -> dict:
        endpoint = self._endpoint(name)
        if endpoint.update == "IN_PROGRESS":
            raise ApiError(
                409,
                "RESOURCE_CONFLICT",
                f"Endpoint {name} is currently being updated. Please wait until the update completes.",
            )
        self._pending(endpoint, body.get("served_entities") or [], body.get("traffic_config"))
        return endpoint.detailed()

    def put_ai_gateway(self, body: dict, name: str) -> dict:
        endpoint = self._endpoint(name)
        _check_table(body.get("inference_table_config"))
        endpoint.ai_gateway = {k: v for k, v in body.items() if v is not None}
        return endpoint.ai_gateway

    def _by_id(self, endpoint_id: str) -> _Endpoint:
        for endpoint in self.endpoints.values():
            if endpoint.id == endpoint_id:
                return endpoint
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Serving endpoint {endpoint_id} does not exist.")

    def permissions(self, endpoint: _Endpoint) -> dict:
        acl = [
            {
                "user_name": self.user,
                "all_permissions": [{"permission_level": "CAN_MANAGE", "inherited": False}],
            },
            {
                "group_name": "admins",
                "all_permissions": [
                    {
                        "permission_level": "CAN_MANAGE",
                        "inherited": True,
                        "inherited_from_object": ["/serving-endpoints/"],
                    }
                ],
            },
        ]
        acl += [
            {"group_name": group, "all_permissions": [{"permission_level": level, "inherited": False}]}
            for group, level in sorted(endpoint.acl.items())
        ]
        return {
            "object_id": f"/serving-endpoints/{endpoint.id}",
            "object_type": "serving-endpoint",
            "access_control_list": acl,
        }

    def get_permissions(self, _: Any, endpoint_id: str) -> dict:
        return self.permissions(self._by_id(endpoint_id))

    def update_permissions(self, body: dict, endpoint_id: str) -> dict:
        endpoint = self._by_id(endpoint_id)
        for entry in body.get("access_control_list") or []:
            level = entry.get("permission_level")
            if level not in ("CAN_QUERY", "CAN_VIEW", "CAN_MANAGE"):
                raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Invalid permission level {level}.")
            if not entry.get("group_name"):
                raise ApiError(400, "INVALID_PARAMETER_VALUE", "Only group grants are expected here.")
            endpoint.acl[entry["group_name"]] = level
        return self.permissions(endpoint)

    def invoke(self, body: Any, name: str) -> dict:
        endpoint = self._endpoint(name)
        if endpoint.ready != "READY" or self.backend is None:
            raise ApiError(503, "TEMPORARILY_UNAVAILABLE", f"Endpoint {name} is not ready.")
        answer = httpx.post(f"{self.backend}/invocations", json=body, timeout=30)
        if answer.status_code != 200:
            detail = answer.json()
            raise ApiError(answer.status_code, detail["error_code"], detail["message"])
        return answer.json()


def _check_table(config: dict | None) -> None:
    if config and config.get("enabled") and not (config.get("catalog_name") and config.get("schema_name")):
        raise ApiError(
            400, "INVALID_PARAMETER_VALUE", "Inference tables need a catalog_name and a schema_name."
        )


_NAME = r"(?P<name>[^/]+)"
_ID = r"(?P<endpoint_id>[^/]+)"
_ROUTES = [
    ("POST", r"/api/2.0/serving-endpoints", lambda f, b: f.create(b)),
    ("GET", rf"/api/2.0/serving-endpoints/{_NAME}", lambda f, b, name: f.get(name)),
    ("PUT", rf"/api/2.0/serving-endpoints/{_NAME}/config", FakeServing.update_config),
    ("PUT", rf"/api/2.0/serving-endpoints/{_NAME}/ai-gateway", FakeServing.put_ai_gateway),
    ("GET", rf"/api/2.0/permissions/serving-endpoints/{_ID}", FakeServing.get_permissions),
    ("PATCH", rf"/api/2.0/permissions/serving-endpoints/{_ID}", FakeServing.update_permissions),
    ("POST", rf"/serving-endpoints/{_NAME}/invocations", FakeServing.invoke),
]
