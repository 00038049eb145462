"""Runs a killed process left behind: recognised by who started them, closed by the next run.

A training run carries the host and process id that started it. A run still RUNNING whose process
is gone from this host (kill -9, a crash of the machine's kernel) is ended as FAILED by the next
training run of the experiment, and so is one older than any job may take.
"""

from __future__ import annotations

import os
import socket
import time

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

HOST_TAG = "bricksml.host"
PID_TAG = "bricksml.pid"
CLOSED_TAG = "bricksml.closed_because"
#: Longer than the jobs' own timeout (7200 s): a run this old is never coming back.
ABANDONED_AFTER_SECONDS = 4 * 3600


def owner_tags() -> dict[str, str]:
    """Tags that let a later run tell whether this run's process still lives."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def close_abandoned(experiment_id: str, job: str) -> list[str]:
    """End as FAILED the RUNNING runs of ``job`` whose process is gone; return their ids."""
    client = MlflowClient()
    try:
        running = client.search_runs(
            [experiment_id],
            filter_string=f"attributes.status = 'RUNNING' and tags.`bricksml.job` = '{job}'",
            max_results=200,
        )
    except MlflowException:
        return []
    closed = []
    now_ms = time.time() * 1000
    for run in running:
        reason = _why_abandoned(run, now_ms)
        if reason is None:
            continue
        client.set_tag(run.info.run_id, CLOSED_TAG, reason)
        client.set_terminated(run.info.run_id, status="FAILED")
        closed.append(run.info.run_id)
    return closed


def _why_abandoned(run: mlflow.entities.Run, now_ms: float) -> str | None:
    tags = run.data.tags
    age = (now_ms - run.info.start_time) / 1000
    if age > ABANDONED_AFTER_SECONDS:
        return f"still RUNNING after {age / 3600:.1f} h: longer than any job may take"
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return None
    pid = int(tags[PID_TAG])
    if pid == os.getpid() or _alive(pid):
        return None
    return f"its process {pid} on {tags[HOST_TAG]} ended without ending the run"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
