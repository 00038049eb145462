"""Trigger a deployed bundle job, wait for it, and read what its notebooks returned.

Everything here takes a ``WorkspaceClient``: authentication is the SDK's (environment variables,
GitHub OIDC, service principal), and tests hand in a client pointed at a local Jobs API server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError
from databricks.sdk.service.jobs import Run

from bricksml.errors import RunFailedError, RunTimeoutError, WorkspaceError, first_line

TERMINAL = {"TERMINATED", "SKIPPED", "INTERNAL_ERROR"}


@dataclass
class TriggeredRun:
    """A run of a deployed job, as far as it got."""

    job: str
    job_id: int
    run_id: int
    run_page_url: str = ""
    state: dict[str, str] = field(default_factory=dict)
    tasks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def connect() -> WorkspaceClient:
    """A client authenticated the SDK's way (environment, OIDC, service principal), or a clear error."""
    try:
        return WorkspaceClient()
    except ValueError as exc:  # the SDK's "cannot configure default credentials"
        raise WorkspaceError(
            "no Databricks credentials: set DATABRICKS_HOST and DATABRICKS_CLIENT_ID with "
            f"DATABRICKS_AUTH_TYPE=github-oidc (CI), or a profile ({first_line(exc, limit=120)})"
        ) from None


def deployed_name(declared: str, development: bool, client: WorkspaceClient) -> str:
    """The job's name in the workspace: development mode prefixes '[dev <short user name>] '."""
    if not development:
        return declared
    user = _call(lambda: client.current_user.me()).user_name or ""
    return f"[dev {user.split('@')[0]}] {declared}"


def find_job(client: WorkspaceClient, name: str, target: str) -> int:
    """The id of the one deployed job with this exact name."""
    found = [
        j for j in _call(lambda: list(client.jobs.list(name=name))) if j.settings and j.settings.name == name
    ]
    if not found:
        raise WorkspaceError(
            f"job {name!r} is not deployed in this workspace; run: databricks bundle deploy -t {target}"
        )
    if len(found) > 1:
        ids = ", ".join(str(j.job_id) for j in found)
        raise WorkspaceError(f"{len(found)} jobs are named {name!r} (ids {ids}); pass --job-id")
    return int(found[0].job_id)


def trigger(client: WorkspaceClient, job: str, job_id: int, parameters: Mapping[str, str]) -> TriggeredRun:
    """Start a run with these job parameters (the deployed job keeps its defaults for the rest)."""
    waiter = _call(lambda: client.jobs.run_now(job_id=job_id, job_parameters=dict(parameters) or None))
    run_id = int(waiter.response.run_id)
    run = _call(lambda: client.jobs.get_run(run_id))
    return TriggeredRun(job, job_id, run_id, run.run_page_url or "")


def wait(
    client: WorkspaceClient,
    triggered: TriggeredRun,
    *,
    timeout: float,
    poll: float,
    report: Callable[[str], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
) -> TriggeredRun:
    """Poll until the run ends; success returns it with the tasks' results, anything else raises."""
    deadline = clock() + timeout
    seen: dict[str, str] = {}
    while True:
        run = _call(lambda: client.jobs.get_run(triggered.run_id))
        states = _task_states(run)
        for key, state in states.items():
            if seen.get(key) != state:
                report(f"task {key}: {state}")
        seen = states
        life = _life_cycle(run)
        if life in TERMINAL:
            break
        if clock() >= deadline:
            _call(lambda: client.jobs.cancel_run(triggered.run_id))
            raise RunTimeoutError(
                f"run {triggered.run_id} of {triggered.job} timed out after {timeout:g} s and was cancelled"
            )
        time.sleep(poll)
    triggered.state = _state(run)
    triggered.tasks = [_task(client, t) for t in run.tasks or []]
    if triggered.state["result_state"] != "SUCCESS":
        failed = ", ".join(t["task_key"] for t in triggered.tasks if t["state"] not in ("SUCCESS", ""))
        message = triggered.state["state_message"] or "no message"
        raise RunFailedError(
            f"run {triggered.run_id} of {triggered.job} ended {triggered.state['result_state'] or life}"
            f" ({message}); failed tasks: {failed or 'none'}; see {triggered.run_page_url}"
        )
    return triggered


def summary_markdown(triggered: TriggeredRun) -> str:
    """A GitHub job summary: the tasks and what they returned (model version, metrics, outputs)."""
    lines = [
        f"### {triggered.job}: run [{triggered.run_id}]({triggered.run_page_url}) "
        f"{triggered.state.get('result_state', '')}",
        "",
        "| task | state | result |",
        "|---|---|---|",
    ]
    for task in triggered.tasks:
        lines.append(f"| {task['task_key']} | {task['state']} | {describe(task.get('result'))} |")
    return "\n".join(lines) + "\n"


def describe(result: Any) -> str:
    """One line of what a task returned (model version, gate, metrics, output)."""
    if not isinstance(result, dict):
        return ""
    parts = []
    if "model_version" in result:
        parts.append(f"{result.get('model_name', '')} v{result['model_version']}")
    if "decision" in result:
        parts.append(f"gate: {result['decision']}")
    elif "promoted" in result:
        parts.append(f"promoted: {result['promoted']}")
    metrics = result.get("metrics") or {}
    for key in ("test_f1_macro", "holdout_f1_macro", "f1_macro"):
        if key in metrics:
            parts.append(f"{key} {metrics[key]:.4f}")
    if "output_path" in result:
        parts.append(f"{result.get('rows', '?')} rows -> {result['output_path']}")
    if "path" in result and "splits" in result:
        parts.append(f"{result['path']} {result['splits']}")
    return "; ".join(parts)


def _task(client: WorkspaceClient, task: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "task_key": task.task_key,
        "state": _result_state(task.state),
        "run_id": task.run_id,
        "result": None,
    }
    if task.run_id is not None:
        try:
            output = client.jobs.get_run_output(task.run_id)
        except DatabricksError:
            return out  # run_job_task parents have no output of their own
        text = output.notebook_output.result if output.notebook_output else None
        if text:
            try:
                out["result"] = json.loads(text)
            except ValueError:
                out["result"] = text
    return out


def _task_states(run: Run) -> dict[str, str]:
    return {t.task_key: (_result_state(t.state) or _life_cycle(t)) for t in run.tasks or []}


def _life_cycle(run: Any) -> str:
    state = run.state
    if state is None or state.life_cycle_state is None:
        return ""
    return state.life_cycle_state.value


def _result_state(state: Any) -> str:
    return state.result_state.value if state is not None and state.result_state is not None else ""


def _state(run: Run) -> dict[str, str]:
    return {
        "life_cycle_state": _life_cycle(run),
        "result_state": _result_state(run.state),
        "state_message": (run.state.state_message if run.state else "") or "",
    }


def _call(request: Callable[[], Any]) -> Any:
    try:
        return request()
    except DatabricksError as exc:
        raise WorkspaceError(
            f"Databricks refused the request: {type(exc).__name__}: {first_line(exc)}"
        ) from None
