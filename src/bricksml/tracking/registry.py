"""The model registry with Unity Catalog's rules everywhere: three-level names, aliases, signatures."""

from __future__ import annotations

from collections.abc import Mapping

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models.model import ModelInfo

from bricksml.errors import BricksmlError

CHAMPION = "champion"
CHALLENGER = "challenger"
# Unity Catalog's limits on a tag of a model version (Databricks, "Apply tags to Unity Catalog
# securable objects"): registering or tagging fails there with INVALID_PARAMETER_VALUE otherwise.
UC_TAG_KEY_RESERVED = ".,-=/:"
UC_TAG_KEY_MAX = 255
UC_TAG_VALUE_MAX = 1000


class RegistryError(BricksmlError):
    """A registry lookup found nothing; the message says what was asked and what exists."""


def client() -> MlflowClient:
    return MlflowClient()


def require_signature(info: ModelInfo) -> None:
    """Unity Catalog refuses models without a signature; refuse them locally too.

    ``info`` is what ``log_model`` returns, read from the MLmodel file it wrote.
    """
    if info.signature is None:
        raise BricksmlError(f"model {info.model_uri} has no signature; Unity Catalog requires one")


def version_by_alias(name: str, alias: str) -> ModelVersion | None:
    try:
        return client().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def version(name: str, number: str | int) -> ModelVersion:
    try:
        return client().get_model_version(name, str(number))
    except MlflowException:
        raise RegistryError(f"model {name} has no version {number}; {_existing(name)}") from None


def latest_version(name: str) -> ModelVersion | None:
    try:
        versions = client().search_model_versions(f"name='{name}'")
    except MlflowException:
        return None
    return max(versions, key=lambda v: int(v.version), default=None)


#: Version tags that say what a model predicts from what: a model's versions must agree on them.
TRAINED_ON = ("data_name", "label_col")


def check_trained_on(name: str, lineage: Mapping[str, str], allow_other: bool) -> None:
    """Refuse a version trained on another data set or label than the model's newest version.

    Scores of versions trained on different data are not comparable, and a champion for one
    data set must not be replaced by a model of another one by a mistyped parameter.
    """
    if allow_other:
        return
    latest = latest_version(name)
    if latest is None:
        return
    tags = latest.tags or {}
    for key in TRAINED_ON:
        theirs = tags.get(key)
        if theirs is not None and theirs != lineage.get(key):
            raise BricksmlError(
                f"model {name} holds versions trained with {key} {theirs!r} (v{latest.version}), this run"
                f" has {lineage.get(key)!r}: leave model_name empty for a model of this data set's own"
                " or set allow_other_data=true"
            )


def aliases(name: str) -> dict[str, str]:
    """alias -> version number for a registered model (empty when the model does not exist)."""
    try:
        model = client().get_registered_model(name)
    except MlflowException:
        return {}
    return {alias: str(number) for alias, number in (model.aliases or {}).items()}


def set_alias(name: str, alias: str, number: str | int) -> None:
    client().set_registered_model_alias(name, alias, str(number))


def check_tags(tags: Mapping[str, str]) -> None:
    """Refuse here, as Unity Catalog would there, a version tag it cannot store."""
    for key, value in tags.items():
        reserved = sorted(set(key) & set(UC_TAG_KEY_RESERVED))
        if reserved or not key or len(key) > UC_TAG_KEY_MAX:
            raise BricksmlError(
                f"model version tag {key!r}: Unity Catalog takes keys of 1 to {UC_TAG_KEY_MAX} characters"
                f" without any of {' '.join(UC_TAG_KEY_RESERVED)} (use underscores)"
            )
        if len(value) > UC_TAG_VALUE_MAX:
            raise BricksmlError(
                f"model version tag {key!r}: its value has {len(value)} characters;"
                f" Unity Catalog takes at most {UC_TAG_VALUE_MAX}"
            )


def tag_version(name: str, number: str | int, tags: Mapping[str, object]) -> None:
    values = {key: "" if value is None else str(value) for key, value in tags.items()}
    check_tags(values)
    c = client()
    for key, value in values.items():
        c.set_model_version_tag(name, str(number), key, value)


def _existing(name: str) -> str:
    try:
        versions = client().search_model_versions(f"name='{name}'")
    except MlflowException:
        versions = []
    if not versions:
        return "it has no versions (train one first)"
    numbers = sorted(int(v.version) for v in versions)
    found = aliases(name)
    alias_text = ", ".join(f"@{a} -> {v}" for a, v in sorted(found.items())) or "no aliases"
    return f"existing versions: {', '.join(map(str, numbers))} ({alias_text})"
