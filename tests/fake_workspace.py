"""A fake Databricks workspace on 127.0.0.1 for the real Databricks CLI's bundle validate/deploy/run.

It answers the calls those commands make (identity, workspace files, Unity Catalog schemas, volumes,
registered models and grants, MLflow experiments, apps, jobs and runs, object permissions, telemetry) in
the shapes of the REST API, built with the Databricks SDK's own classes, and keeps what it is asked
to create so a test can compare it with what `bricksml.bundle.config.load` resolves. Every request
is recorded; a call it does not know is a 404 listed in `unknown`, and a request for any other host
(it doubles as the CLI's HTTP(S) proxy) is refused and listed in `outside`, so a test sees a new
call or an escape to the network instead of a silent success.
"""

from __future__ import annotations

import base64
import itertools
import json
import posixpath
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from databricks.sdk.service import apps as apps_api
from databricks.sdk.service import catalog, iam, ml, workspace
from databricks.sdk.service import jobs as jobs_api

METASTORE_ID = "120efa64-9b68-46ba-be38-f319458430d2"
WORKSPACE_ID = 900800700600


@dataclass(frozen=True)
class Identity:
    """Who a token belongs to; a service principal's user name is its application id."""

    user_name: str
    id: str
    display_name: str = ""
    service_principal: bool = False

    def me(self) -> dict:
        """The /Me answer: a user, or a service principal as the SCIM API shows one."""
        return iam.User(
            id=self.id,
            user_name=self.user_name,
            display_name=self.display_name or self.user_name,
            active=True,
            emails=[] if self.service_principal else [iam.ComplexValue(value=self.user_name, primary=True)],
        ).as_dict()


@dataclass(frozen=True)
class Call:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    user: str


class ApiError(Exception):
    """An error answer in the API's shape: status, error_code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _not_found(message: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", message)


def _ws_path(path: str) -> str:
    """/Workspace/Users/x and /Users/x are one object in a workspace: keep the short form."""
    path = posixpath.normpath("/" + path.lstrip("/"))
    if path == "/Workspace":
        return "/"
    return path.removeprefix("/Workspace") if path.startswith("/Workspace/") else path


@dataclass
class _Object:
    info: workspace.ObjectInfo
    data: bytes = b""


Handler = Callable[["FakeWorkspace", Call, dict[str, str], bytes], Any]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register a handler for METHOD and a path pattern ({name} is one segment, {name...} the rest)."""
    regex = re.sub(r"\{(\w+)\.\.\.\}", r"(?P<\1>.+)", pattern)
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)

    def register(fn: Handler) -> Handler:
        ROUTES.append((method, re.compile(f"^{regex}$"), fn))
        return fn

    return register


@dataclass
class FakeWorkspace:
    """The workspace's state, its request log and the HTTP server in front of it."""

    identities: dict[str, Identity]
    requests: list[Call] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    jobs: dict[int, jobs_api.Job] = field(default_factory=dict)
    runs: dict[int, jobs_api.Run] = field(default_factory=dict)
    schemas: dict[str, catalog.SchemaInfo] = field(default_factory=dict)
    volumes: dict[str, catalog.VolumeInfo] = field(default_factory=dict)
    registered_models: dict[str, catalog.RegisteredModelInfo] = field(default_factory=dict)
    grants: dict[str, list[catalog.PrivilegeAssignment]] = field(default_factory=dict)
    experiments: dict[str, ml.Experiment] = field(default_factory=dict)
    permissions: dict[str, list[dict]] = field(default_factory=dict)
    apps: dict[str, apps_api.App] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.url = ""
        self._lock = threading.RLock()
        self._ids = itertools.count(1_000_001)
        self._objects: dict[str, _Object] = {}
        for path in ("/", "/Users", "/Shared", *(f"/Users/{i.user_name}" for i in self.identities.values())):
            self._mkdir(path)
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeWorkspace:
        """Listen on a free port of 127.0.0.1 in a daemon thread."""
        handler = type("BoundHandler", (_HttpHandler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeWorkspace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests read -------------------------------------------------------------------------

    def files(self, under: str) -> dict[str, bytes]:
        """Files (not folders) stored under a workspace path, by their short path."""
        root = _ws_path(under).rstrip("/") + "/"
        return {
            p: o.data
            for p, o in self._objects.items()
            if p.startswith(root) and o.info.object_type != workspace.ObjectType.DIRECTORY
        }

    def exists(self, path: str) -> bool:
        """Whether a workspace object (file, notebook or folder) is at path, /Workspace or not."""
        return _ws_path(path) in self._objects

    def folder_access(self, path: str) -> dict[str, str]:
        """Who can do what in a folder ("group:users" -> "CAN_READ"), set there or inherited."""
        order = ["CAN_READ", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"]
        access = {}
        for entry in _folder_acl(self, _ws_path(path)):
            who = next(f"{k.removesuffix('_name')}:{v}" for k, v in entry.items() if k.endswith("_name"))
            access[who] = max((p["permission_level"] for p in entry["all_permissions"]), key=order.index)
        return access

    # -- dispatch --------------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request (status, headers, body); the HTTP handler only reads and writes bytes."""
        url = urlparse(target)
        if method == "CONNECT" or url.scheme or url.netloc:
            # Only a proxied request names a host: the CLI tried to reach beyond the fake.
            self.outside.append(f"{method} {target}")
            return 403, {}, b""
        path = unquote(url.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        token = headers.get("authorization", "").removeprefix("Bearer ")
        identity = self.identities.get(token)
        body: Any = None
        if raw and "json" in headers.get("content-type", "json"):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        with self._lock:
            self.requests.append(Call(method, path, query, body, identity.user_name if identity else ""))
            if identity is None and path not in PUBLIC:
                return _error(ApiError(401, "UNAUTHENTICATED", "Invalid access token."))
            for verb, pattern, fn in ROUTES:
                match = pattern.match(path)
                if verb == method and match:
                    try:
                        user = identity.user_name if identity else ""
                        answer = fn(self, Call(method, path, query, body, user), match.groupdict(), raw)
                    except ApiError as err:
                        return _error(err)
                    except Exception as err:  # a bug of the fake: a 500 the test sees in `failures`
                        self.failures.append(f"{method} {path}: {err!r}")
                        return _error(ApiError(500, "INTERNAL_ERROR", repr(err)))
                    return _answer(answer)
            self.unknown.append(f"{method} {path}")
            return _error(ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'"))

    def identity(self, call: Call) -> Identity:
        """Who made a call: the owner of its token."""
        return next(i for i in self.identities.values() if i.user_name == call.user)

    def next_id(self) -> int:
        """A fresh object, job or run id (one counter, so ids never collide across kinds)."""
        return next(self._ids)

    # -- the workspace file tree -----------------------------------------------------------------

    def _mkdir(self, path: str) -> None:
        """mkdir -p, as the API does; refused where a file or notebook is on the way."""
        chain = [_ws_path(path)]
        while chain[-1] != "/":
            chain.append(posixpath.dirname(chain[-1]))
        for folder in reversed(chain):
            existing = self._objects.get(folder)
            if existing is None:
                info = workspace.ObjectInfo(
                    object_type=workspace.ObjectType.DIRECTORY, path=folder, object_id=self.next_id()
                )
                self._objects[folder] = _Object(info)
            elif existing.info.object_type != workspace.ObjectType.DIRECTORY:
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Path ({folder}) already exists.")

    def _object(self, path: str) -> _Object:
        found = self._objects.get(_ws_path(path))
        if found is None:
            raise _not_found(f"Path ({path}) doesn't exist.")
        return found

    def _write(self, path: str, data: bytes, overwrite: bool, object_type: workspace.ObjectType) -> None:
        short = _ws_path(path)
        parent = posixpath.dirname(short)
        if parent not in self._objects:
            # The real import refuses a file whose folder is missing; the CLI creates folders first.
            raise _not_found(f"The parent folder ({parent}) does not exist.")
        if short in self._objects and not overwrite:
            raise ApiError(409, "RESOURCE_ALREADY_EXISTS", f"File already exists at ({path}).")
        old = self._objects.get(short)
        object_id = old.info.object_id if old else self.next_id()
        info = workspace.ObjectInfo(object_type=object_type, path=short, object_id=object_id, size=len(data))
        if object_type == workspace.ObjectType.NOTEBOOK:
            info.language = workspace.Language.PYTHON
        self._objects[short] = _Object(info, data)

    def _shown(self, obj: _Object, asked: str) -> dict:
        """An object's info with its path written the way the request wrote it (/Workspace or not)."""
        info = obj.info.as_dict()
        if asked.startswith("/Workspace"):
            info["path"] = "/Workspace" + (obj.info.path if obj.info.path != "/" else "")
        return info


def _answer(answer: Any) -> tuple[int, dict[str, str], bytes]:
    if isinstance(answer, bytes):
        return 200, {"Content-Type": "application/octet-stream"}, answer
    if hasattr(answer, "as_dict"):
        answer = answer.as_dict()
    return (
        200,
        {"Content-Type": "application/json"},
        json.dumps(answer if answer is not None else {}).encode(),
    )


def _error(err: ApiError) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"error_code": err.code, "message": err.message}).encode()
    return err.status, {"Content-Type": "application/json"}, body


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- identity, metastore, telemetry ----------------------------------------------------------------

PUBLIC = {"/.well-known/databricks-config"}


@route("GET", "/.well-known/databricks-config")
def _host_metadata(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    # What a workspace host answers before any sign-in: the SDK reads it to know the kind of host.
    return {
        "oidc_endpoint": f"{ws.url}/oidc",
        "workspace_id": str(WORKSPACE_ID),
        "cloud": "AWS",
        "host_type": "WORKSPACE_HOST",
        "token_federation_default_oidc_audiences": [f"{ws.url}/oidc/v1/token"],
    }


@route("GET", "/api/2.0/preview/scim/v2/Me")
def _me(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    return ws.identity(call).me()


@route("GET", "/api/2.1/unity-catalog/current-metastore-assignment")
def _metastore(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    return catalog.MetastoreAssignment(
        metastore_id=METASTORE_ID, workspace_id=WORKSPACE_ID, default_catalog_name="main"
    )


@route("POST", "/telemetry-ext")
def _telemetry(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    return {"errors": [], "numProtoSuccess": len((call.body or {}).get("protoLogs") or [])}


# -- workspace objects -----------------------------------------------------------------------------


@route("GET", "/api/2.0/workspace/get-status")
def _get_status(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    return ws._shown(ws._object(call.query["path"]), call.query["path"])


@route("GET", "/api/2.0/workspace/list")
def _list(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    asked = call.query["path"]
    folder = _ws_path(asked)
    if ws._object(asked).info.object_type != workspace.ObjectType.DIRECTORY:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Path ({asked}) is not a directory.")
    children = [o for p, o in sorted(ws._objects.items()) if p != folder and posixpath.dirname(p) == folder]
    return {"objects": [ws._shown(o, asked) for o in children]}


@route("POST", "/api/2.0/workspace/mkdirs")
def _mkdirs(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    ws._mkdir(call.body["path"])
    return {}


@route("POST", "/api/2.0/workspace/delete")
def _delete(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    path = _ws_path(call.body["path"])
    ws._object(path)
    inside = [p for p in ws._objects if p.startswith(path.rstrip("/") + "/")]
    if inside and not call.body.get("recursive"):
        raise ApiError(400, "DIRECTORY_NOT_EMPTY", f"Folder ({call.body['path']}) is not empty.")
    for p in [path, *inside]:
        ws._objects.pop(p, None)
    return {}


@route("GET", "/api/2.0/workspace/export")
def _export(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    obj = ws._object(call.query["path"])
    if call.query.get("direct_download") == "true":
        return obj.data
    return workspace.ExportResponse(content=base64.b64encode(obj.data).decode(), file_type="")


@route("POST", "/api/2.0/workspace/import")
def _import(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    body = call.body
    data = base64.b64decode(body.get("content") or "")
    kind = (
        workspace.ObjectType.NOTEBOOK
        if body.get("format") in ("SOURCE", "JUPYTER")
        else workspace.ObjectType.FILE
    )
    path = body["path"]
    if kind == workspace.ObjectType.NOTEBOOK:
        path = posixpath.splitext(path)[0]
    ws._write(path, data, bool(body.get("overwrite")), kind)
    return {}


@route("POST", "/api/2.0/workspace-files/import-file/{path...}")
def _import_file(ws: FakeWorkspace, call: Call, vars: dict, raw: bytes) -> Any:
    path = "/" + vars["path"].lstrip("/")
    kind = workspace.ObjectType.FILE
    if path.endswith(".ipynb") or (path.endswith(".py") and raw.startswith(b"# Databricks notebook source")):
        # The workspace keeps notebooks without their extension, as the real import does.
        kind, path = workspace.ObjectType.NOTEBOOK, posixpath.splitext(path)[0]
    ws._write(path, raw, call.query.get("overwrite") == "true", kind)
    return {}


@route("GET", "/api/2.0/workspace-files/{path...}")
def _read_file(ws: FakeWorkspace, call: Call, vars: dict, _: bytes) -> Any:
    return ws._object("/" + vars["path"].lstrip("/")).data


def _principal(entry: dict) -> dict:
    return {k: entry[k] for k in ("user_name", "group_name", "service_principal_name") if entry.get(k)}


def _folder_acl(ws: FakeWorkspace, path: str) -> list[dict]:
    """A folder's access list as a workspace computes it: set on it, or inherited from above.

    The defaults are the real ones: admins manage everything, a home folder's owner manages it, and
    all users manage /Shared (the reason the CLI warns about a bundle root there).
    """
    levels: dict[tuple, list[dict]] = {}

    def grant(principal: dict, level: str, source: str | None) -> None:
        entry = {"permission_level": level, "inherited": source is not None}
        if source is not None:
            entry["inherited_from_object"] = [source]
        levels.setdefault(tuple(sorted(principal.items())), []).append(entry)

    chain = [path]
    while chain[-1] != "/":
        chain.append(posixpath.dirname(chain[-1]))
    for folder in reversed(chain):
        source = None if folder == path else f"/directories/{ws._objects[folder].info.object_id}"
        if folder == "/":
            grant({"group_name": "admins"}, "CAN_MANAGE", source)
        elif folder == "/Shared":
            grant({"group_name": "users"}, "CAN_MANAGE", source)
        elif posixpath.dirname(folder) == "/Users":
            owner = next(
                (i for i in ws.identities.values() if i.user_name == posixpath.basename(folder)), None
            )
            if owner is not None:
                key = "service_principal_name" if owner.service_principal else "user_name"
                grant({key: owner.user_name}, "CAN_MANAGE", source)
        for entry in ws.permissions.get(f"directories/{ws._objects[folder].info.object_id}", []):
            grant(_principal(entry), entry["permission_level"], source)
    return [{**dict(k), "all_permissions": v} for k, v in levels.items()]


def _by_object_id(ws: FakeWorkspace, object_id: str) -> str:
    for path, obj in ws._objects.items():
        if str(obj.info.object_id) == object_id:
            return path
    raise _not_found(f"Object {object_id} does not exist.")


@route("GET", "/api/2.0/permissions/{object_type}/{object_id}")
def _get_permissions(ws: FakeWorkspace, call: Call, vars: dict, _: bytes) -> Any:
    object_type, object_id = vars["object_type"], vars["object_id"]
    if object_type == "directories":
        acl = _folder_acl(ws, _by_object_id(ws, object_id))
    else:
        if object_type == "jobs":
            _known_job(ws, object_id)
        acl = [
            {
                **_principal(e),
                "all_permissions": [{"permission_level": e["permission_level"], "inherited": False}],
            }
            for e in ws.permissions.get(f"{object_type}/{object_id}", [])
        ]
    return {
        "object_id": f"/{object_type}/{object_id}",
        "object_type": object_type.rstrip("s"),
        "access_control_list": acl,
    }


@route("PUT", "/api/2.0/permissions/{object_type}/{object_id}")
@route("PATCH", "/api/2.0/permissions/{object_type}/{object_id}")
def _set_permissions(ws: FakeWorkspace, call: Call, vars: dict, _: bytes) -> Any:
    object_type, object_id = vars["object_type"], vars["object_id"]
    if object_type == "directories":
        _by_object_id(ws, object_id)
    elif object_type == "jobs":
        _known_job(ws, object_id)
    given = [e for e in call.body.get("access_control_list", []) if _principal(e)]
    key = f"{object_type}/{object_id}"
    if call.method == "PATCH":
        given = [*ws.permissions.get(key, []), *given]
    ws.permissions[key] = given
    return _get_permissions(ws, call, vars, b"")


# -- Unity Catalog ---------------------------------------------------------------------------------


@route("POST", "/api/2.1/unity-catalog/schemas")
def _create_schema(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    schema = catalog.SchemaInfo.from_dict(call.body)
    schema.name = (schema.name or "").lower()
    schema.full_name = f"{schema.catalog_name}.{schema.name}"
    if schema.full_name in ws.schemas:
        raise ApiError(409, "SCHEMA_ALREADY_EXISTS", f"Schema '{schema.full_name}' already exists")
    schema.owner = schema.created_by = schema.updated_by = call.user
    schema.created_at = schema.updated_at = _now_ms()
    schema.metastore_id, schema.schema_id = METASTORE_ID, f"schema-{ws.next_id()}"
    ws.schemas[schema.full_name] = schema
    return schema


@route("GET", "/api/2.1/unity-catalog/schemas/{full_name}")
def _get_schema(ws: FakeWorkspace, call: Call, vars: dict, _: bytes) -> Any:
    if vars["full_name"] not in ws.schemas:
        raise ApiError(404, "SCHEMA_DOES_NOT_EXIST", f"Schema '{vars['full_name']}' does not exist.")
    return ws.schemas[vars["full_name"]]


def _require_schema(ws: FakeWorkspace, catalog_name: str | None, schema_name: str | None) -> None:
    # The real API refuses a volume or model in a schema that is not there: the order of creation
    # (schema first, through the ${resources.schemas...} reference) is what this checks.
    if f"{catalog_name}.{schema_name}" not in ws.schemas:
        raise ApiError(404, "SCHEMA_DOES_NOT_EXIST", f"Schema '{catalog_name}.{schema_name}' does not exist.")


@route("POST", "/api/2.1/unity-catalog/volumes")
def _create_volume(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    volume = catalog.VolumeInfo.from_dict(call.body)
    _require_schema(ws, volume.catalog_name, volume.schema_name)
    volume.full_name = f"{volume.catalog_name}.{volume.schema_name}.{volume.name}"
    volume.owner = volume.created_by = volume.updated_by = call.user
    volume.created_at = volume.updated_at = _now_ms()
    volume.metastore_id, volume.volume_id = METASTORE_ID, f"volume-{ws.next_id()}"
    volume.storage_location = f"s3://metastore/{METASTORE_ID}/volumes/{volume.volume_id}"
    ws.volumes[volume.full_name] = volume
    return volume


@route("GET", "/api/2.1/unity-catalog/volumes/{full_name}")
def _get_volume(ws: FakeWorkspace, call: Call, vars: dict, _: bytes) -> Any:
    if vars["full_name"] not in ws.volumes:
        raise _not_found(f"Volume '{vars['full_name']}' does not exist.")
    return ws.volumes[vars["full_name"]]


@route("POST", "/api/2.1/unity-catalog/models")
def _create_model(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    model = catalog.RegisteredModelInfo.from_dict(call.body)
    _require_schema(ws, model.catalog_name, model.schema_name)
    model.full_name = f"{model.catalog_name}.{model.schema_name}.{model.name}"
    model.owner = model.created_by = model.updated_by = call.user
    model.created_at = model.updated_at = _now_ms()
    model.metastore_id = METASTORE_ID
    ws.registered_models[model.full_name] = model
    return model


@route("GET", "/api/2.1/unity-catalog/models/{full_name}")
def _get_model(ws: FakeWorkspace, call: Call, vars: dict, _: bytes) -> Any:
    if vars["full_name"] not in ws.registered_models:
        raise _not_found(f"Registered model '{vars['full_name']}' does not exist.")
    return ws.registered_models[vars["full_name"]]


@route("GET", "/api/2.1/unity-catalog/permissions/{securable_type}/{full_name}")
def _get_grants(ws: FakeWorkspace, call: Call, vars: dict, _: bytes) -> Any:
    key = f"{vars['securable_type'].upper()}:{vars['full_name']}"
    return catalog.GetPermissionsResponse(privilege_assignments=ws.grants.get(key, []))


@route("PATCH", "/api/2.1/unity-catalog/permissions/{securable_type}/{full_name}")
def _update_grants(ws: FakeWorkspace, call: Call, vars: dict, _: bytes) -> Any:
    key = f"{vars['securable_type'].upper()}:{vars['full_name']}"
    held: dict[str, set[str]] = {
        a.principal or "": {p.value for p in a.privileges or []} for a in ws.grants.get(key, [])
    }
    for change in call.body.get("changes", []):
        privileges = held.setdefault(change["principal"], set())
        privileges.difference_update(change.get("remove") or [])
        privileges.update(change.get("add") or [])
    ws.grants[key] = [
        catalog.PrivilegeAssignment(principal=p, privileges=[catalog.Privilege(x) for x in sorted(privs)])
        for p, privs in sorted(held.items())
        if privs
    ]
    return catalog.UpdatePermissionsResponse(privilege_assignments=ws.grants[key])


# -- MLflow experiments ----------------------------------------------------------------------------


@route("POST", "/api/2.0/mlflow/experiments/create")
def _create_experiment(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    name = _ws_path(call.body["name"])
    if any(e.name == name for e in ws.experiments.values()):
        raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Experiment '{name}' already exists.")
    experiment_id = str(ws.next_id())
    tags = [ml.ExperimentTag.from_dict(t) for t in call.body.get("tags") or []]
    ws.experiments[experiment_id] = ml.Experiment(
        experiment_id=experiment_id,
        name=name,
        artifact_location=f"dbfs:/databricks/mlflow-tracking/{experiment_id}",
        lifecycle_stage="active",
        tags=[*tags, ml.ExperimentTag(key="mlflow.ownerEmail", value=call.user)],
        creation_time=_now_ms(),
        last_update_time=_now_ms(),
    )
    return ml.CreateExperimentResponse(experiment_id=experiment_id)


@route("GET", "/api/2.0/mlflow/experiments/get")
def _get_experiment(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    found = ws.experiments.get(call.query.get("experiment_id", ""))
    if found is None:
        raise _not_found(f"Could not find experiment with ID {call.query.get('experiment_id')}")
    return ml.GetExperimentResponse(experiment=found)


# -- apps ----------------------------------------------------------------------------------------


@route("POST", "/api/2.0/apps")
def _create_app(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    app = apps_api.App.from_dict(call.body)
    if app.name in ws.apps:
        raise ApiError(409, "RESOURCE_ALREADY_EXISTS", f"An app with name {app.name} already exists.")
    # no_compute=true (what deploy asks unless lifecycle.started): created stopped, nothing deployed.
    stopped = call.query.get("no_compute") == "true"
    state = apps_api.ComputeState.STOPPED if stopped else apps_api.ComputeState.ACTIVE
    principal = ws.next_id()
    app.id = str(ws.next_id())
    app.compute_status = apps_api.ComputeStatus(state=state, message=f"App compute is {state.value.lower()}.")
    app.app_status = apps_api.ApplicationStatus(
        state=apps_api.ApplicationState.UNAVAILABLE, message="App has not been deployed yet."
    )
    app.creator = app.updater = call.user
    app.service_principal_id = principal
    app.service_principal_client_id = f"app-{principal}"
    app.service_principal_name = f"app-{app.name}"
    app.default_source_code_path = f"/Workspace/Users/{call.user}/apps/{app.name}"
    app.url = f"https://{app.name}-{WORKSPACE_ID}.aws.databricksapps.com"
    app.create_time = app.update_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ws.apps[app.name] = app
    return app


@route("GET", "/api/2.0/apps/{name}")
def _get_app(ws: FakeWorkspace, call: Call, vars: dict, _: bytes) -> Any:
    if vars["name"] not in ws.apps:
        raise _not_found(f"App with name {vars['name']} does not exist or is deleted.")
    return ws.apps[vars["name"]]


@route("DELETE", "/api/2.0/apps/{name}")
def _delete_app(ws: FakeWorkspace, call: Call, vars: dict, _: bytes) -> Any:
    return ws.apps.pop(vars["name"], None) or _get_app(ws, call, vars, b"")


# -- jobs and runs ---------------------------------------------------------------------------------


@route("POST", "/api/2.2/jobs/create")
def _create_job(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    settings = jobs_api.JobSettings.from_dict(call.body)
    job_id = ws.next_id()
    ws.jobs[job_id] = jobs_api.Job(
        job_id=job_id,
        settings=settings,
        creator_user_name=call.user,
        run_as_user_name=call.user,
        created_time=_now_ms(),
    )
    return jobs_api.CreateResponse(job_id=job_id)


def _known_job(ws: FakeWorkspace, job_id: Any) -> jobs_api.Job:
    found = ws.jobs.get(int(job_id))
    if found is None:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Job {job_id} does not exist.")
    return found


@route("GET", "/api/2.2/jobs/get")
@route("GET", "/api/2.1/jobs/get")
def _get_job(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    return _known_job(ws, call.query["job_id"])


@route("POST", "/api/2.2/jobs/reset")
def _reset_job(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    job = _known_job(ws, call.body["job_id"])
    job.settings = jobs_api.JobSettings.from_dict(call.body["new_settings"])
    return {}


@route("POST", "/api/2.2/jobs/delete")
def _delete_job(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    _known_job(ws, call.body["job_id"])
    del ws.jobs[int(call.body["job_id"])]
    return {}


@route("GET", "/api/2.2/jobs/list")
def _list_jobs(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    name = call.query.get("name")
    found = [
        jobs_api.BaseJob(
            job_id=j.job_id, settings=j.settings, creator_user_name=j.creator_user_name
        ).as_dict()
        for j in ws.jobs.values()
        if name is None or (j.settings and j.settings.name == name)
    ]
    return {"jobs": found, "has_more": False} if found else {"has_more": False}


@route("POST", "/api/2.2/jobs/run-now")
def _run_now(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    job = ws.jobs.get(int(call.body["job_id"]))
    if job is None:
        raise _not_found(f"Job {call.body['job_id']} does not exist.")
    run_id = ws.next_id()
    declared = {p.name: p.default for p in (job.settings.parameters or [])} if job.settings else {}
    given = call.body.get("job_parameters") or {}
    done = jobs_api.RunState(
        life_cycle_state=jobs_api.RunLifeCycleState.TERMINATED,
        result_state=jobs_api.RunResultState.SUCCESS,
        state_message="",
    )
    status = jobs_api.RunStatus(
        state=jobs_api.RunLifecycleStateV2State.TERMINATED,
        termination_details=jobs_api.TerminationDetails(
            code=jobs_api.TerminationCodeCode.SUCCESS, type=jobs_api.TerminationTypeType.SUCCESS
        ),
    )
    ws.runs[run_id] = jobs_api.Run(
        run_id=run_id,
        job_id=job.job_id,
        run_name=job.settings.name if job.settings else "",
        number_in_job=run_id,
        run_page_url=f"{ws.url}/?o={WORKSPACE_ID}#job/{job.job_id}/run/{run_id}",
        run_type=jobs_api.RunType.JOB_RUN,
        state=done,
        status=status,
        start_time=_now_ms(),
        end_time=_now_ms(),
        job_parameters=[
            jobs_api.JobParameter(name=n, default=d, value=given.get(n, d)) for n, d in declared.items()
        ],
        tasks=[
            jobs_api.RunTask(task_key=t.task_key, run_id=ws.next_id(), state=done, status=status)
            for t in (job.settings.tasks or [])
        ],
    )
    return jobs_api.RunNowResponse(run_id=run_id, number_in_job=run_id)


@route("GET", "/api/2.2/jobs/runs/get")
@route("GET", "/api/2.1/jobs/runs/get")
def _get_run(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    run = ws.runs.get(int(call.query["run_id"]))
    if run is None:
        raise _not_found(f"Run {call.query['run_id']} does not exist.")
    return run


@route("GET", "/api/2.2/jobs/runs/get-output")
def _get_output(ws: FakeWorkspace, call: Call, _: dict, __: bytes) -> Any:
    task_run = int(call.query["run_id"])
    for run in ws.runs.values():
        for task in run.tasks or []:
            if task.run_id == task_run:
                metadata = jobs_api.Run(
                    run_id=task_run, job_id=run.job_id, state=task.state, status=task.status
                )
                return jobs_api.RunOutput(
                    metadata=metadata, notebook_output=jobs_api.NotebookOutput(result="")
                )
    raise _not_found(f"Run {task_run} does not exist.")


# -- HTTP --------------------------------------------------------------------------------------


class _HttpHandler(BaseHTTPRequestHandler):
    """Reads a request (also a chunked one, as Go streams uploads) and writes the fake's answer."""

    fake: FakeWorkspace
    protocol_version = "HTTP/1.1"

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, data = self.fake.handle(self.command, self.path, headers, self._body())
        self.send_response(status)
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        if self.command == "CONNECT":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_CONNECT = _serve

    def log_message(self, *args: Any) -> None:
        pass
