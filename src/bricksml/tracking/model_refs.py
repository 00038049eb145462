"""Model references as users write them, parsed in one place: the contract's check and the resolver.

Four forms, as MLflow 3 reads them: ``runs:/<run_id>/<path>``, ``models:/<name>/<version>``,
``models:/<name>@<alias>`` and ``models:/m-<id>`` (a logged model, registered or not). A text that
:func:`parse` takes is one the resolver can look up, and no other: the two cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: An MLflow run id, as the tracking server makes them (here and on Databricks).
RUN_ID = re.compile(r"[0-9a-f]{32}")
#: A logged model's id: ``m-`` and hexadecimal digits (MLflow makes ``m-`` + a UUID's 32).
MODEL_ID = re.compile(r"m-[0-9a-f]+")
ALIAS = re.compile(r"[A-Za-z0-9_-]+")
#: What :func:`parse` accepts, for messages and help texts.
FORMS = "runs:/<run_id>/<path>, models:/<name>/<version>, models:/<name>@<alias> or models:/m-<model_id>"

_RUNS = re.compile(rf"runs:/(?P<run_id>{RUN_ID.pattern})/(?P<path>[^\s]+)")
_LOGGED = re.compile(rf"models:/(?P<model_id>{MODEL_ID.pattern})")
_VERSION = re.compile(r"models:/(?P<name>[^/@\s]+)/(?P<version>[0-9]+)")
_ALIASED = re.compile(rf"models:/(?P<name>[^/@\s]+)@(?P<alias>{ALIAS.pattern})")


@dataclass(frozen=True)
class RunRef:
    """The model version a training run registered (``runs:/<run_id>/<path>``)."""

    run_id: str
    path: str = "model"

    def __str__(self) -> str:
        return f"runs:/{self.run_id}/{self.path}"


@dataclass(frozen=True)
class VersionRef:
    """One version of a registered model."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class AliasRef:
    """The version an alias of a registered model points at, when it is looked up."""

    name: str
    alias: str

    def __str__(self) -> str:
        return f"models:/{self.name}@{self.alias}"


@dataclass(frozen=True)
class LoggedModelRef:
    """An MLflow 3 logged model by its id, registered or not."""

    model_id: str

    def __str__(self) -> str:
        return f"models:/{self.model_id}"


ModelRef = RunRef | VersionRef | AliasRef | LoggedModelRef


def parse(uri: str) -> ModelRef:
    """The reference ``uri`` names; ``ValueError`` (saying the accepted forms) for any other text."""
    if found := _RUNS.fullmatch(uri):
        return RunRef(found["run_id"], found["path"])
    # Before name/version: MLflow reads a models:/ URI without a slash or an @ as a logged model id.
    if found := _LOGGED.fullmatch(uri):
        return LoggedModelRef(found["model_id"])
    if found := _VERSION.fullmatch(uri):
        return VersionRef(found["name"], str(int(found["version"])))
    if found := _ALIASED.fullmatch(uri):
        return AliasRef(found["name"], found["alias"])
    raise ValueError(f"a model URI: {FORMS}")


def chosen(run_id: str, model_uri: str, model_name: str, alias: str) -> tuple[ModelRef, str]:
    """The model a job's parameters name, and how they named it: ``run_id``, else ``model_uri``,
    else ``model_name`` at ``alias``."""
    if run_id:
        return RunRef(run_id), f"run_id {run_id}"
    if model_uri:
        return parse(model_uri), model_uri
    ref = AliasRef(model_name, alias)
    return ref, str(ref)


def problem(uri: str) -> str | None:
    """What ``uri`` should be when :func:`parse` refuses it, else None (a parameter check)."""
    try:
        parse(uri)
    except ValueError as exc:
        return str(exc)
    return None


def model_id_in(uri: str | None) -> str | None:
    """The logged model id a version's source names (``models:/m-...``), if it names one."""
    found = _LOGGED.fullmatch(uri or "")
    return found["model_id"] if found else None
