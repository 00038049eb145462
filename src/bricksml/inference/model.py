"""Resolve what the user asked for (run id, model URI, name + alias) to the model to load.

Every reference is parsed by :mod:`bricksml.tracking.model_refs`, the parser the parameter check
uses too. Each resolves to one registered version, except a logged model (``models:/m-<id>``)
that was never registered: it resolves to itself and the run that logged it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePosixPath

from mlflow.entities import LoggedModel, LoggedModelStatus
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

from bricksml.errors import RegistryError
from bricksml.tracking import model_refs, registry
from bricksml.tracking.model_refs import AliasRef, LoggedModelRef, ModelRef, RunRef, VersionRef


@dataclass(frozen=True)
class ResolvedModel:
    """The model to load and where it comes from (``version`` is empty for an unregistered model)."""

    asked: str  # what the user asked for, as they wrote it
    load_uri: str
    model_name: str
    version: str
    run_id: str
    model_id: str | None
    tags: dict[str, str]

    @property
    def model_uri(self) -> str:
        """The version's URI; a logged model's own where no version was registered."""
        if self.version:
            return str(VersionRef(self.model_name, self.version))
        return self.load_uri

    @property
    def output_folder(self) -> PurePosixPath:
        """Where under the output root its predictions go: ``<name>/v<N>``, else ``m-<id>``."""
        if self.version:
            return PurePosixPath(self.model_name, f"v{self.version}")
        return PurePosixPath(self.model_id or "unregistered")

    @property
    def label(self) -> str:
        """A short name for run names and messages: ``<name>-v<N>`` or ``m-<id>``."""
        return f"{self.model_name}-v{self.version}" if self.version else str(self.model_id)


def resolve_ref(ref: ModelRef, asked: str | None = None) -> ResolvedModel:
    """Look ``ref`` up in the tracking store and registry; ``asked`` names it in errors."""
    asked = asked or str(ref)
    if isinstance(ref, RunRef):
        return _by_run(ref.run_id, asked)
    if isinstance(ref, VersionRef):
        return _from_version(registry.version(ref.name, ref.version), asked)
    if isinstance(ref, AliasRef):
        return _by_alias(ref.name, ref.alias, asked)
    return _by_logged_model(ref.model_id, asked)


def _by_logged_model(model_id: str, asked: str) -> ResolvedModel:
    """The logged model's newest registered version, else the logged model of its run."""
    try:
        logged = registry.client().get_logged_model(model_id)
    except MlflowException:
        raise RegistryError(
            f"{asked}: no such logged model in this tracking store; {_recent_versions(with_model_ids=True)}"
        ) from None
    if logged.status != LoggedModelStatus.READY:
        status = getattr(logged.status, "value", logged.status)
        raise RegistryError(f"{asked}: the logged model is {status}, not READY (its run did not finish it)")
    versions = _versions_of(logged)
    if versions:
        newest = max(versions, key=lambda v: (v.creation_timestamp or 0, int(v.version)))
        return _from_version(newest, asked)
    return ResolvedModel(
        asked=asked,
        load_uri=str(LoggedModelRef(logged.model_id)),
        model_name="",
        version="",
        run_id=logged.source_run_id or "",
        model_id=logged.model_id,
        tags={k: v for k, v in (logged.tags or {}).items() if not k.startswith("mlflow.")},
    )


def _versions_of(logged: LoggedModel) -> list[ModelVersion]:
    """The versions registered from ``logged``.

    MLflow lists them in the logged model's ``mlflow.modelVersions`` tag when it registers one; a
    store that lacks the tag is searched through the versions of the run that logged the model.
    """
    client = registry.client()
    found = []
    try:
        listed = json.loads((logged.tags or {}).get(MLFLOW_MODEL_VERSIONS) or "[]")
    except ValueError:
        listed = []
    for entry in listed if isinstance(listed, list) else []:
        try:
            version = client.get_model_version(str(entry["name"]), str(entry["version"]))
        except (MlflowException, KeyError, TypeError):  # deleted since, or a tag in another shape
            continue
        if _is_from(version, logged):
            found.append(version)
    if not found and logged.source_run_id:
        versions = client.search_model_versions(f"run_id='{logged.source_run_id}'")
        found = [v for v in versions if _is_from(v, logged)]
    return found


def _is_from(version: ModelVersion, logged: LoggedModel) -> bool:
    if version.model_id:
        return version.model_id == logged.model_id
    return version.source in (logged.model_uri, logged.artifact_location)


def _by_alias(name: str, alias: str, asked: str) -> ResolvedModel:
    found = registry.version_by_alias(name, alias)
    if found is None:
        raise RegistryError(f"{asked}: no such alias; {_what_exists(name)}")
    return _from_version(found, asked)


def _by_run(run_id: str, asked: str) -> ResolvedModel:
    client = registry.client()
    try:
        client.get_run(run_id)
    except MlflowException:
        raise RegistryError(f"{asked}: no such run in this tracking store; {_recent_versions()}") from None
    versions = client.search_model_versions(f"run_id='{run_id}'")
    if not versions:
        raise RegistryError(f"{asked}: the run registered no model version; {_recent_versions()}")
    return _from_version(max(versions, key=lambda v: int(v.version)), asked)


def _from_version(version: ModelVersion, asked: str) -> ResolvedModel:
    number = str(version.version)
    return ResolvedModel(
        asked=asked,
        load_uri=str(VersionRef(version.name, number)),
        model_name=version.name,
        version=number,
        run_id=version.run_id or "",
        # Databricks fills model_id; a local registry keeps the logged model only in the source.
        model_id=version.model_id or model_refs.model_id_in(version.source),
        tags=dict(version.tags or {}),
    )


def _what_exists(name: str) -> str:
    try:
        registry.client().get_registered_model(name)
    except MlflowException:
        return f"model {name} does not exist; {_registered_models()}"
    found = registry.aliases(name)
    versions = registry.client().search_model_versions(f"name='{name}'")
    numbers = ", ".join(sorted((str(v.version) for v in versions), key=int)) or "none"
    aliases = ", ".join(f"@{a} -> v{v}" for a, v in sorted(found.items())) or "no aliases"
    return f"model {name} has versions {numbers} ({aliases})"


def _registered_models() -> str:
    names = sorted(m.name for m in registry.client().search_registered_models(max_results=20))
    if not names:
        return "no model is registered yet (run train_models)"
    return f"registered models: {', '.join(names)}"


def _recent_versions(with_model_ids: bool = False) -> str:
    versions = registry.client().search_model_versions(max_results=200)
    latest = sorted(versions, key=lambda v: v.creation_timestamp or 0, reverse=True)[:5]
    if not latest:
        return "no model is registered yet (run train_models)"

    def origin(v: ModelVersion) -> str:
        model_id = v.model_id or model_refs.model_id_in(v.source)
        return str(LoggedModelRef(model_id)) if with_model_ids and model_id else f"run {v.run_id}"

    listed = ", ".join(f"{v.name} v{v.version} ({origin(v)})" for v in latest)
    return f"latest registered versions: {listed}"
