"""The one place that knows whether bricksml runs on Databricks or locally.

Locally, the workspace is mirrored under ``BRICKSML_LOCAL_ROOT``: ``/Volumes/...`` and
``/Workspace/...`` become folders with the same paths below it, and MLflow uses SQLite there
unless ``MLFLOW_TRACKING_URI`` says otherwise.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bricksml.errors import BricksmlError

LOCAL_ROOT_ENV = "BRICKSML_LOCAL_ROOT"
DEFAULT_LOCAL_ROOT = ".bricksml"
#: Set by ``bricksml run`` for the notebook kernel: the job parameters as a JSON object.
INJECTED_PARAMETERS_ENV = "BRICKSML_JOB_PARAMETERS"
#: Set by ``bricksml run``: the bundle target the local run resolved its parameters for.
TARGET_ENV = "BRICKSML_BUNDLE_TARGET"
_MIRRORED_PREFIXES = ("/Volumes/", "/Workspace/", "/dbfs/")


def on_databricks() -> bool:
    """True inside a Databricks cluster or serverless compute."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def local_root() -> Path:
    """The folder that mirrors the workspace on this machine."""
    return Path(os.environ.get(LOCAL_ROOT_ENV) or DEFAULT_LOCAL_ROOT).absolute()


def resolve_path(path: str | os.PathLike[str]) -> Path:
    """Map a workspace path (``/Volumes/...``, ``/Workspace/...``, ``dbfs:/...``) to a real path.

    On Databricks the path is used as it is; locally it moves under :func:`local_root`.
    Any other path (a local file, a relative path) is returned unchanged. A workspace path whose
    ``..`` climbs out of its root (``/Volumes/../../etc``) is refused, here and on Databricks
    alike: locally it would write outside the mirror, on Databricks outside the volumes.
    """
    text = os.fspath(path)
    if text.startswith("dbfs:/"):
        text = text[len("dbfs:") :]
        if not text.startswith(("/Volumes/", "/Workspace/")):
            text = "/dbfs" + text
    if not (text.startswith(_MIRRORED_PREFIXES) or text in ("/Volumes", "/Workspace")):
        return Path(text)
    text = _inside_its_root(text, os.fspath(path))
    if on_databricks():
        return Path(text)
    return local_root() / text.lstrip("/")


def _inside_its_root(text: str, given: str) -> str:
    """The workspace path with its ``..`` resolved, if it stays under its root (/Volumes, ...)."""
    if ".." not in text:
        return text
    root = "/" + text.split("/")[1]
    normal = posixpath.normpath(text)
    if normal != root and not normal.startswith(root + "/"):
        raise BricksmlError(
            f"the path {given!r} climbs out of {root} with '..'; give a path inside {root}/ "
            "(without '..' that leaves it)"
        )
    return normal


def tracking_uri() -> str:
    """MLflow tracking URI: Databricks-managed there, else MLFLOW_TRACKING_URI, else SQLite."""
    if on_databricks():
        return "databricks"
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    root = local_root() / "mlflow"
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'mlflow.db'}"


def registry_uri() -> str:
    """MLflow registry URI: Unity Catalog on Databricks, else the tracking store's registry."""
    if on_databricks():
        return "databricks-uc"
    return os.environ.get("MLFLOW_REGISTRY_URI") or tracking_uri()


def artifact_root() -> str:
    """Where a local SQLite-backed store keeps run artifacts (a folder beside the database)."""
    return (local_root() / "mlflow" / "artifacts").as_uri()


def bundle_target() -> str:
    """The bundle target this run belongs to ('local' when run outside any bundle job)."""
    return os.environ.get(TARGET_ENV, "local")


def read_job_parameters(names: Iterable[str], defaults: Mapping[str, str]) -> dict[str, str]:
    """Read a job's parameters as strings, the way the platform delivers them.

    On Databricks the job parameters arrive as notebook widgets; each is declared with its
    default so the notebook also runs interactively. Locally ``bricksml run`` injects them into
    the kernel's environment, and a missing name falls back to the same default.
    """
    names = list(names)
    if on_databricks():
        from databricks.sdk.runtime import dbutils

        values = {}
        for name in names:
            dbutils.widgets.text(name, defaults.get(name, ""))
            values[name] = dbutils.widgets.get(name)
        return values
    injected = json.loads(os.environ.get(INJECTED_PARAMETERS_ENV) or "{}")
    return {name: str(injected.get(name, defaults.get(name, ""))) for name in names}


#: Set by ``bricksml run`` for each task: where the run keeps its files, and which task this is.
RUN_DIR_ENV = "BRICKSML_JOB_RUN_DIR"
TASK_KEY_ENV = "BRICKSML_TASK_KEY"


def set_task_value(key: str, value: str | int | float) -> None:
    """Hand a value to later tasks of the same job run (Databricks task values).

    Outside a job run (an interactive notebook, the CLI) there is no later task: nothing happens.
    """
    if on_databricks():
        from databricks.sdk.runtime import dbutils

        dbutils.jobs.taskValues.set(key=key, value=value)
        return
    run_dir, task_key = os.environ.get(RUN_DIR_ENV), os.environ.get(TASK_KEY_ENV)
    if not (run_dir and task_key):
        return
    path = Path(run_dir) / "task_values" / f"{task_key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    values = json.loads(path.read_text()) if path.exists() else {}
    values[key] = value
    path.write_text(json.dumps(values, indent=2))


def get_task_value(task_key: str, key: str) -> str | int | float | None:
    """A value an earlier task of this job run set, or None outside a job run."""
    if on_databricks():
        from databricks.sdk.runtime import dbutils

        return dbutils.jobs.taskValues.get(taskKey=task_key, key=key, default=None, debugValue=None)
    run_dir = os.environ.get(RUN_DIR_ENV)
    if not run_dir:
        return None
    path = Path(run_dir) / "task_values" / f"{task_key}.json"
    return json.loads(path.read_text()).get(key) if path.exists() else None


def exit_notebook(result: Mapping[str, object]) -> None:
    """End a job's notebook with its result as JSON, for whoever triggered the run to read.

    On Databricks this is ``dbutils.notebook.exit`` (read back through the Jobs API's run output);
    locally the result lands next to the executed notebook as ``<task>.result.json``.
    """
    text = json.dumps(result, default=str, sort_keys=True)
    if on_databricks():
        from databricks.sdk.runtime import dbutils

        dbutils.notebook.exit(text)
        return
    run_dir, task_key = os.environ.get(RUN_DIR_ENV), os.environ.get(TASK_KEY_ENV)
    if run_dir and task_key:
        Path(run_dir, f"{task_key}.result.json").write_text(text + "\n")


@contextmanager
def environment_kept(*names: str) -> Iterator[None]:
    """Whatever the block does to these environment variables is undone when it ends."""
    before = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
