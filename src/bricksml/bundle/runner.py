"""Run a bundle job locally: its notebook tasks in dependency order, through a real Jupyter kernel.

The kernel is this very Python (the CLI's), the parameters reach the notebook the way widgets do
on Databricks (see :func:`bricksml.runtime.read_job_parameters`), and every executed notebook is
kept, also when a cell fails, so a person can read what happened.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from bricksml import runtime
from bricksml.bundle.config import Bundle
from bricksml.errors import BricksmlError, TaskFailedError
from bricksml.progress import SILENT, Progress

RUNS_DIR = "runs"


@dataclass
class TaskResult:
    """One executed notebook task; ``result`` is what its notebook ended with (``exit_notebook``)."""

    task_key: str
    notebook: str
    executed_notebook: str
    seconds: float
    job: str
    result: Any = None


@dataclass
class JobRun:
    job: str
    target: str
    run_id: str
    parameters: dict[str, str]
    run_dir: str
    tasks: list[TaskResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "target": self.target,
            "run_id": self.run_id,
            "parameters": self.parameters,
            "run_dir": self.run_dir,
            "tasks": [t.__dict__ for t in self.tasks],
        }


class _ThisPythonKernels(KernelSpecManager):
    """Every kernel is this interpreter, whatever kernelspecs the machine has installed."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="bricksml",
            language="python",
        )


def resolve_parameters(bundle: Bundle, job_key: str, overrides: dict[str, str]) -> dict[str, str]:
    """Job-level parameter defaults as the bundle resolved them, with ``--param`` overrides."""
    job = bundle.job(job_key)
    declared = {p["name"]: p.get("default", "") for p in job.get("parameters") or []}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise BricksmlError(
            f"--param {unknown[0]}: job {job_key!r} has no such parameter; "
            f"its parameters: {', '.join(declared) or 'none'}"
        )
    values = {name: _as_param_string(value) for name, value in declared.items()}
    values.update(overrides)
    return values


def _as_param_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def task_order(job: dict[str, Any], job_key: str) -> list[dict[str, Any]]:
    """Tasks sorted so that each comes after the tasks it depends on."""
    tasks = {t["task_key"]: t for t in job.get("tasks") or []}
    order: list[dict[str, Any]] = []
    state: dict[str, str] = {}

    def visit(key: str, chain: tuple[str, ...]) -> None:
        if state.get(key) == "done":
            return
        if state.get(key) == "visiting":
            raise BricksmlError(
                f"job {job_key!r}: tasks depend on each other in a cycle: {' -> '.join((*chain, key))}"
            )
        if key not in tasks:
            raise BricksmlError(f"job {job_key!r}: task {chain[-1]!r} depends on unknown task {key!r}")
        state[key] = "visiting"
        for dep in tasks[key].get("depends_on") or []:
            visit(dep["task_key"], (*chain, key))
        state[key] = "done"
        order.append(tasks[key])

    for key in tasks:
        visit(key, ())
    return order


def run_job(
    bundle: Bundle,
    job_key: str,
    overrides: dict[str, str] | None = None,
    *,
    progress: Progress = SILENT,
    run_id: str | None = None,
) -> JobRun:
    """Execute every task of a job locally and return where the executed notebooks are."""
    parameters = resolve_parameters(bundle, job_key, overrides or {})
    run_id = run_id or dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    run_dir = runtime.local_root() / RUNS_DIR / job_key / run_id
    run = JobRun(job_key, bundle.target, run_id, parameters, str(run_dir))
    job = bundle.job(job_key)
    states: dict[str, str] = {}  # task key -> SUCCESS | FAILED | EXCLUDED | UPSTREAM_FAILED
    outcomes: dict[str, str] = {}  # condition task key -> "true" | "false"
    failure: TaskFailedError | None = None
    for task in task_order(job, job_key):
        key = task["task_key"]
        state = _run_state(task, states, outcomes)
        if state is not None:  # skipped, as Databricks skips it
            states[key] = state
            if state == EXCLUDED:
                progress.step(f"task {key}: excluded (its condition is not met)")
            continue
        try:
            if "notebook_task" in task:
                run.tasks.append(_run_notebook_task(bundle, job_key, task, parameters, run_dir, progress))
            elif "run_job_task" in task:
                run.tasks.extend(_run_job_task(bundle, job_key, task, parameters, progress, run_id, run_dir))
            elif "condition_task" in task:
                outcomes[key] = "true" if _condition(job_key, task, parameters, run_dir) else "false"
                progress.step(f"task {key}: condition is {outcomes[key]}")
            else:
                kinds = [k for k in task if k.endswith("_task")]
                raise BricksmlError(
                    f"job {job_key!r} task {key!r}: {', '.join(kinds) or 'this task type'} cannot run"
                    " locally; only notebook_task, run_job_task and condition_task do"
                )
        except TaskFailedError as exc:  # later tasks may still run (run_if); the run fails at the end
            states[key] = FAILED
            failure = failure or exc
            continue
        states[key] = SUCCESS
    if failure is not None:
        raise failure
    return run


SUCCESS, FAILED, EXCLUDED, UPSTREAM_FAILED = "SUCCESS", "FAILED", "EXCLUDED", "UPSTREAM_FAILED"
#: ``run_if`` values and whether they let a task run after its dependencies' states (Databricks'
#: "Run if dependencies"); an excluded dependency counts as succeeded.
_RUN_IF = {
    "ALL_SUCCESS": lambda done: all(s == SUCCESS for s in done),
    "AT_LEAST_ONE_SUCCESS": lambda done: any(s == SUCCESS for s in done),
    "NONE_FAILED": lambda done: not any(s in (FAILED, UPSTREAM_FAILED) for s in done),
    "ALL_DONE": lambda done: True,
    "AT_LEAST_ONE_FAILED": lambda done: any(s in (FAILED, UPSTREAM_FAILED) for s in done),
    "ALL_FAILED": lambda done: all(s in (FAILED, UPSTREAM_FAILED) for s in done),
}


def _run_state(task: dict, states: dict[str, str], outcomes: dict[str, str]) -> str | None:
    """None when ``task`` runs; else the state it is skipped with (EXCLUDED or UPSTREAM_FAILED).

    A dependency on a condition task's ``outcome`` that did not come out excludes the task, and so
    does a task whose dependencies were all excluded, whatever its ``run_if``.
    """
    deps = task.get("depends_on") or []
    if not deps:
        return None
    done = []
    for dep in deps:
        state = states[dep["task_key"]]
        wanted = dep.get("outcome")
        if wanted is not None and state == SUCCESS and outcomes.get(dep["task_key"]) != str(wanted).lower():
            state = EXCLUDED
        done.append(state)
    if all(s == EXCLUDED for s in done):
        return EXCLUDED
    counted = [SUCCESS if s == EXCLUDED else s for s in done]
    run_if = task.get("run_if", "ALL_SUCCESS")
    if run_if not in _RUN_IF:
        raise BricksmlError(
            f"task {task['task_key']!r}: run_if {run_if!r} is not one of {', '.join(_RUN_IF)}"
        )
    if _RUN_IF[run_if](counted):
        return None
    return EXCLUDED if run_if in ("AT_LEAST_ONE_FAILED", "ALL_FAILED") else UPSTREAM_FAILED


#: Condition operators: == and != compare text, the others numbers (as Databricks does).
_OPERATORS = {
    "EQUAL_TO": lambda a, b: a == b,
    "NOT_EQUAL": lambda a, b: a != b,
    "GREATER_THAN": lambda a, b: float(a) > float(b),
    "GREATER_THAN_OR_EQUAL": lambda a, b: float(a) >= float(b),
    "LESS_THAN": lambda a, b: float(a) < float(b),
    "LESS_THAN_OR_EQUAL": lambda a, b: float(a) <= float(b),
}


def _condition(job_key: str, task: dict, parameters: dict[str, str], run_dir: Path) -> bool:
    """A condition task's expression, with its operands' dynamic values resolved."""
    spec = task["condition_task"]
    op = spec.get("op")
    if op not in _OPERATORS:
        raise BricksmlError(
            f"job {job_key!r} task {task['task_key']!r}: condition op {op!r} is not one of"
            f" {', '.join(_OPERATORS)}"
        )
    left, right = (
        dynamic_values(_as_param_string(spec.get(side)), parameters, job_key, run_dir)
        for side in ("left", "right")
    )
    try:
        return bool(_OPERATORS[op](left, right))
    except ValueError:
        raise BricksmlError(
            f"job {job_key!r} task {task['task_key']!r}: {op} compares numbers; got {left!r} and {right!r}"
        ) from None


_DYNAMIC = re.compile(r"\{\{\s*job\.parameters\.([A-Za-z0-9_.-]+)\s*\}\}")
_TASK_VALUE = re.compile(r"\{\{\s*tasks\.([A-Za-z0-9_-]+)\.values\.([A-Za-z0-9_.-]+)\s*\}\}")


def dynamic_values(text: str, parameters: dict[str, str], job_key: str, run_dir: Path | None = None) -> str:
    """Resolve ``{{job.parameters.<name>}}`` the way Databricks does when the run starts, and
    ``{{tasks.<task>.values.<key>}}`` from the task values the run's tasks set so far."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in parameters:
            raise BricksmlError(
                f"job {job_key!r}: {{{{job.parameters.{name}}}}} names no parameter of the job"
            )
        return parameters[name]

    def task_value(match: re.Match[str]) -> str:
        task_key, key = match.groups()
        path = None if run_dir is None else run_dir / "task_values" / f"{task_key}.json"
        values = json.loads(path.read_text()) if path is not None and path.is_file() else {}
        if key not in values:
            raise BricksmlError(
                f"job {job_key!r}: {{{{tasks.{task_key}.values.{key}}}}}: task {task_key!r} set no value"
                f" {key!r} in this run (it did not run, or failed before setting it)"
            )
        return _as_param_string(values[key])

    return _TASK_VALUE.sub(task_value, _DYNAMIC.sub(value, text))


def _run_job_task(
    bundle: Bundle,
    job_key: str,
    task: dict,
    parameters: dict[str, str],
    progress: Progress,
    run_id: str,
    run_dir: Path,
) -> list[TaskResult]:
    ref = str(task["run_job_task"].get("job_id", ""))
    prefix, suffix = "resources.jobs.", ".id"
    if not (ref.startswith(prefix) and ref.endswith(suffix)):
        raise BricksmlError(
            f"job {job_key!r} task {task['task_key']!r}: run_job_task must point at a job of this "
            "bundle as ${resources.jobs.<name>.id}"
        )
    child = ref[len(prefix) : -len(suffix)]
    child_params = {
        k: dynamic_values(_as_param_string(v), parameters, job_key, run_dir)
        for k, v in (task["run_job_task"].get("job_parameters") or {}).items()
    }
    progress.step(f"task {task['task_key']}: running job {child}")
    child_run = run_job(bundle, child, child_params, progress=progress, run_id=f"{run_id}-{task['task_key']}")
    return child_run.tasks


def _run_notebook_task(
    bundle: Bundle,
    job_key: str,
    task: dict,
    parameters: dict[str, str],
    run_dir: Path,
    progress: Progress,
) -> TaskResult:
    notebook_task = task["notebook_task"]
    if notebook_task.get("base_parameters"):
        raise BricksmlError(
            f"job {job_key!r} task {task['task_key']!r}: use job-level parameters, not base_parameters"
        )
    path = Path(notebook_task["notebook_path"])
    if not path.is_absolute():
        path = (bundle.job_file(job_key).parent / path).resolve()
    if path.suffix == "":
        path = path.with_suffix(".ipynb")
    if not path.is_file():
        raise BricksmlError(f"job {job_key!r} task {task['task_key']!r}: notebook {path} does not exist")

    nb = nbformat.read(path, as_version=4)
    run_dir.mkdir(parents=True, exist_ok=True)
    executed = run_dir / f"{task['task_key']}.ipynb"
    result_file = run_dir / f"{task['task_key']}.result.json"
    result_file.unlink(missing_ok=True)  # a reused run id must not report an earlier run's result
    env = dict(os.environ)
    env[runtime.INJECTED_PARAMETERS_ENV] = json.dumps(parameters)
    env[runtime.TARGET_ENV] = bundle.target
    env[runtime.LOCAL_ROOT_ENV] = str(runtime.local_root())
    env[runtime.RUN_DIR_ENV] = str(run_dir)
    env[runtime.TASK_KEY_ENV] = task["task_key"]
    env.pop("DATABRICKS_RUNTIME_VERSION", None)
    km = KernelManager(kernel_name="python3", kernel_spec_manager=_ThisPythonKernels())
    client = NotebookClient(
        nb,
        km=km,
        timeout=None,
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,
    )
    progress.step(f"task {task['task_key']}: executing {path.name}")
    started = dt.datetime.now()
    kernel_log = (run_dir / f"{task['task_key']}.kernel.log").open("w")
    try:
        # Cell output travels over Jupyter messages; the kernel process's own log goes to a file.
        client.execute(env=env, stdout=kernel_log, stderr=kernel_log)
    except CellExecutionError as exc:
        nbformat.write(nb, executed)
        summary = f"{exc.ename}: {exc.evalue}".strip().splitlines()
        raise TaskFailedError(
            f"job {job_key!r} task {task['task_key']!r} failed: {summary[0] if summary else exc.ename}"
            f" (executed notebook: {executed})"
        ) from None
    finally:
        kernel_log.close()
        if not executed.exists():
            nbformat.write(nb, executed)
    nbformat.write(nb, executed)
    seconds = (dt.datetime.now() - started).total_seconds()
    progress.step(f"task {task['task_key']}: done in {seconds:.1f}s -> {executed}")
    return TaskResult(
        task["task_key"], str(path), str(executed), round(seconds, 2), job_key, _read_result(result_file)
    )


def _read_result(path: Path) -> Any:
    """What the notebook passed to ``exit_notebook``, or None when it ended without one."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):  # no exit_notebook call, or a torn file: nothing to report
        return None
