"""A local HTTP server that answers like the Databricks Jobs API, with the SDK's own response shapes.

Each run follows a script of life-cycle states (one per ``runs/get``); the server records every
request so tests can check what the client sent (job parameters, cancellations).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from databricks.sdk.service.iam import User
from databricks.sdk.service.jobs import (
    BaseJob,
    JobSettings,
    NotebookOutput,
    Run,
    RunLifeCycleState,
    RunNowResponse,
    RunOutput,
    RunResultState,
    RunState,
    RunTask,
)


@dataclass
class Script:
    """How a run behaves: its life-cycle states, then its result per task."""

    states: list[str] = field(default_factory=lambda: ["PENDING", "RUNNING", "TERMINATED"])
    result: str = "SUCCESS"
    task_results: dict[str, str] = field(default_factory=dict)  # task -> result state
    outputs: dict[str, dict] = field(default_factory=dict)  # task -> notebook exit value
    message: str = ""


@dataclass
class JobsApi:
    jobs: dict[int, str] = field(default_factory=dict)  # job id -> name
    tasks: dict[int, list[str]] = field(default_factory=dict)  # job id -> task keys
    user: str = "ci.bot@example.com"
    script: Script = field(default_factory=Script)
    forbidden: bool = False
    requests: list[tuple[str, str, dict]] = field(default_factory=list)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)

    def handle(self, method: str, path: str, query: dict, body: dict) -> tuple[int, dict]:
        self.requests.append((method, path, {**query, **body}))
        if self.forbidden:
            return 403, {"error_code": "PERMISSION_DENIED", "message": "User lacks CAN_MANAGE_RUN on the job"}
        if path == "/api/2.0/preview/scim/v2/Me":
            return 200, User(user_name=self.user, id="42").as_dict()
        if path == "/api/2.2/jobs/list":
            name = query.get("name")
            found = [
                BaseJob(job_id=i, settings=JobSettings(name=n)).as_dict()
                for i, n in self.jobs.items()
                if name is None or n == name
            ]
            return 200, {"jobs": found, "has_more": False} if found else {"has_more": False}
        if path == "/api/2.2/jobs/run-now":
            job_id = int(body["job_id"])
            if job_id not in self.jobs:
                return 404, {
                    "error_code": "RESOURCE_DOES_NOT_EXIST",
                    "message": f"Job {job_id} does not exist.",
                }
            run_id = 1000 + len(self.runs)
            self.runs[run_id] = {"job_id": job_id, "polls": 0, "cancelled": False}
            return 200, RunNowResponse(run_id=run_id, number_in_job=run_id).as_dict()
        if path == "/api/2.2/jobs/runs/get":
            return self._run(int(query["run_id"]))
        if path == "/api/2.2/jobs/runs/cancel":
            self.runs[int(body["run_id"])]["cancelled"] = True
            return 200, {}
        if path == "/api/2.2/jobs/runs/get-output":
            task_run = int(query["run_id"])
            key = self._task_key(task_run)
            output = self.script.outputs.get(key)
            result = json.dumps(output) if output is not None else None
            return 200, RunOutput(notebook_output=NotebookOutput(result=result)).as_dict()
        return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"No API found for {method} {path}"}

    def _task_key(self, task_run: int) -> str:
        run = self.runs[task_run // 100]
        return self.tasks[run["job_id"]][task_run % 100]

    def _run(self, run_id: int) -> tuple[int, dict]:
        if run_id not in self.runs:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Run {run_id} does not exist."}
        run = self.runs[run_id]
        states = self.script.states
        life = states[min(run["polls"], len(states) - 1)]
        run["polls"] += 1
        if run["cancelled"]:
            life = "TERMINATED"
        done = life in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED")
        result = ("CANCELED" if run["cancelled"] else self.script.result) if done else None
        tasks = []
        for index, key in enumerate(self.tasks.get(run["job_id"], [])):
            task_result = self.script.task_results.get(key, result) if done else None
            tasks.append(
                RunTask(
                    task_key=key,
                    run_id=run_id * 100 + index,
                    state=RunState(
                        life_cycle_state=RunLifeCycleState(life),
                        result_state=RunResultState(task_result) if task_result else None,
                    ),
                )
            )
        body = Run(
            run_id=run_id,
            job_id=run["job_id"],
            run_page_url=f"https://example.cloud.databricks.com/jobs/{run['job_id']}/runs/{run_id}",
            state=RunState(
                life_cycle_state=RunLifeCycleState(life),
                result_state=RunResultState(result) if result else None,
                state_message=self.script.message,
            ),
            tasks=tasks,
        )
        return 200, body.as_dict()


class _Handler(BaseHTTPRequestHandler):
    api: JobsApi

    def _serve(self, method: str) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        status, payload = self.api.handle(method, url.path, query, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, *args: Any) -> None:
        pass


def serve(api: JobsApi) -> tuple[ThreadingHTTPServer, str]:
    handler = type("Handler", (_Handler,), {"api": api})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
