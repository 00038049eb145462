"""The model registry with Unity Catalog's rules everywhere: three-level names, aliases, signatures."""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator, Mapping

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models.model import ModelInfo

from bricksml import runtime
from bricksml.errors import BricksmlError, RegistryError

CHAMPION = "champion"
CHALLENGER = "challenger"
#: The gate's record on a version; ``pending`` while the gate moves the aliases.
GATE_DECISION = "gate_decision"
GATE_RECORD = "gate_record"
PENDING = "pending"
#: The aliases each decision gives the version it judged.
DECISION_ALIASES = {"promoted": (CHALLENGER, CHAMPION), "challenger": (CHALLENGER,)}
# Unity Catalog's limits on a tag of a model version (Databricks, "Apply tags to Unity Catalog
# securable objects"): registering or tagging fails there with INVALID_PARAMETER_VALUE otherwise.
UC_TAG_KEY_RESERVED = ".,-=/:"
UC_TAG_KEY_MAX = 255
UC_TAG_VALUE_MAX = 1000


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


def run_status(run_id: str | None) -> str:
    """The status of a version's training run: a version is whole only when it is FINISHED."""
    if not run_id:
        return "UNKNOWN"
    try:
        return client().get_run(run_id).info.status
    except MlflowException:
        return "DELETED"


@contextlib.contextmanager
def model_lock(name: str) -> Iterator[None]:
    """Serialise alias moves of one model between the processes of this machine.

    Locally every gate shares one registry file, so a file lock makes re-reading the champion and
    moving it one step. On Databricks the train_models job runs one at a time
    (``max_concurrent_runs: 1``) and the gate re-reads the champion right before it moves it.
    """
    if runtime.on_databricks():
        yield
        return
    path = runtime.local_root() / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def settle_interrupted_gates(name: str) -> list[str]:
    """Settle versions a killed gate left ``pending``; return one line per version settled.

    Where every alias the recorded decision gives the version points at it, the gate got that far
    and the decision stands. Otherwise it is marked ``interrupted``: what aliases did move stay
    (``challenger`` only ever moves to a version that qualified), and the champion is unchanged.
    """
    try:
        versions = client().search_model_versions(f"name='{name}'")
    except MlflowException:
        return []
    pending = [v for v in versions if (v.tags or {}).get(GATE_DECISION) == PENDING]
    if not pending:
        return []
    current = aliases(name)
    lines = []
    for found in pending:
        number = str(found.version)
        try:
            intended = json.loads(found.tags.get(GATE_RECORD, "{}")).get("decision", "")
        except ValueError:
            intended = ""
        wanted = DECISION_ALIASES.get(intended, ())
        done = all(current.get(alias) == number for alias in wanted)
        settled = intended if done and intended else "interrupted"
        tag_version(name, number, {GATE_DECISION: settled})
        lines.append(f"v{number}: a gate was killed while moving aliases; its decision is now {settled!r}")
    return lines


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
