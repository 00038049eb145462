"""Resolve what the user asked for (run id, model URI, name + alias) to one registered version."""

from __future__ import annotations

from dataclasses import dataclass

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from bricksml.params.inference import InferenceParams
from bricksml.tracking import registry
from bricksml.tracking.registry import RegistryError


@dataclass(frozen=True)
class ResolvedModel:
    """The model to load and where it comes from."""

    asked: str  # what the user asked for, as they wrote it
    load_uri: str
    model_name: str
    version: str
    run_id: str
    model_id: str | None
    tags: dict[str, str]

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_name}/{self.version}"


def resolve(params: InferenceParams) -> ResolvedModel:
    if params.run_id:
        return _by_run(params.run_id, f"run_id {params.run_id}")
    uri = params.model_uri
    if uri.startswith("runs:/"):
        return _by_run(uri[len("runs:/") :].split("/", 1)[0], uri)
    if uri.startswith("models:/"):
        ref = uri[len("models:/") :]
        if "@" in ref:
            name, alias = ref.split("@", 1)
            return _by_alias(name, alias, uri)
        name, _, number = ref.partition("/")
        return _from_version(registry.version(name, number), uri)
    name = params.registered_model_name
    return _by_alias(name, params.model_alias, f"{name}@{params.model_alias}")


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
        load_uri=f"models:/{version.name}/{number}",
        model_name=version.name,
        version=number,
        run_id=version.run_id or "",
        model_id=getattr(version, "model_id", None),
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


def _recent_versions() -> str:
    versions = registry.client().search_model_versions(max_results=200)
    latest = sorted(versions, key=lambda v: v.creation_timestamp or 0, reverse=True)[:5]
    if not latest:
        return "no model is registered yet (run train_models)"
    listed = ", ".join(f"{v.name} v{v.version} (run {v.run_id})" for v in latest)
    return f"latest registered versions: {listed}"
