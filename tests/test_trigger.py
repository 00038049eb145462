"""bricksml trigger against a local server that answers like the Databricks Jobs API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bricksml.cli.main import main
from tests.jobs_api_mock import JobsApi, Script, serve

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "jobs" / "train_models.financial_sentiment.json"
TRAIN_RESULT = {
    "model_name": "main.bricksml_staging.financial_sentiment",
    "model_version": "7",
    "metrics": {"test_f1_macro": 0.71},
}
GATE_RESULT = {"model_version": "7", "decision": "promoted", "promoted": True, "model_name": "m"}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[JobsApi]:
    state = JobsApi(
        jobs={11: "bricksml-train_models", 12: "[dev ci.bot] bricksml-train_models", 13: "bricksml-pipeline"},
        tasks={11: ["train", "validate"], 12: ["train", "validate"], 13: ["create_data", "train_models"]},
        script=Script(outputs={"train": TRAIN_RESULT, "validate": GATE_RESULT}),
    )
    server, url = serve(state)
    for name in list(__import__("os").environ):
        if name.startswith(("DATABRICKS_", "BUNDLE_VAR_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_HOST", url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-test")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no.databrickscfg"))
    yield state
    server.shutdown()


def _trigger(capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["trigger", *args, "--bundle-root", str(ROOT), "--poll", "0.01", "--output", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def _sent(api: JobsApi, path: str) -> list[dict]:
    return [body for _, p, body in api.requests if p == path]


def test_success_sends_the_run_book_parameters_and_reads_task_results(
    api: JobsApi, capsys, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    code, envelope, err = _trigger(
        capsys,
        "train_models",
        "--target",
        "staging",
        "--params-file",
        str(PARAMS),
        "--param",
        "model_type=linear_svm",
        "--wait",
        "--summary",
        str(summary),
    )
    assert code == 0, err
    [sent] = _sent(api, "/api/2.2/jobs/run-now")
    expected = {**json.loads(PARAMS.read_text()), "model_type": "linear_svm"}
    assert sent == {"job_id": 11, "job_parameters": expected}
    data = envelope["data"]
    assert data["job_id"] == 11 and data["run_id"] == 1000
    assert data["state"]["result_state"] == "SUCCESS"
    assert [t["task_key"] for t in data["tasks"]] == ["train", "validate"]
    assert data["tasks"][0]["result"]["model_version"] == "7"
    text = summary.read_text()
    assert "main.bricksml_staging.financial_sentiment v7" in text and "gate: promoted" in text
    assert "task train: RUNNING" in err or "task train: PENDING" in err


def test_development_target_finds_the_prefixed_job(api: JobsApi, capsys) -> None:
    code, envelope, err = _trigger(capsys, "train_models", "--target", "dev")
    assert code == 0, err
    assert envelope["data"]["job_id"] == 12
    assert ("GET", "/api/2.0/preview/scim/v2/Me", {}) in api.requests
    assert not _sent(api, "/api/2.2/jobs/runs/cancel")


def test_job_not_deployed_says_how_to_deploy(api: JobsApi, capsys) -> None:
    api.jobs.pop(11)
    code, _, err = _trigger(capsys, "train_models", "--target", "staging")
    assert code == 8
    assert "not deployed" in err and "databricks bundle deploy -t staging" in err
    assert not _sent(api, "/api/2.2/jobs/run-now")


def test_failed_run_names_the_failed_task(api: JobsApi, capsys) -> None:
    api.script.result = "FAILED"
    api.script.task_results = {"train": "SUCCESS", "validate": "FAILED"}
    api.script.message = "Task validate failed with message: KeyError"
    code, envelope, err = _trigger(capsys, "train_models", "--target", "staging", "--wait")
    assert code == 6
    assert "ended FAILED" in err and "failed tasks: validate" in err and "KeyError" in err
    assert envelope["status"] == "error"


def test_timeout_cancels_the_run(api: JobsApi, capsys) -> None:
    api.script.states = ["RUNNING"]  # never ends
    code, _, err = _trigger(capsys, "pipeline", "--target", "staging", "--wait", "--timeout", "0.2")
    assert code == 7
    assert "timed out after 0.2 s and was cancelled" in err
    assert _sent(api, "/api/2.2/jobs/runs/cancel") == [{"run_id": 1000}]


def test_cancelled_run_fails(api: JobsApi, capsys) -> None:
    api.script.result = "CANCELED"
    code, _, err = _trigger(capsys, "pipeline", "--target", "staging", "--wait")
    assert code == 6 and "ended CANCELED" in err


def test_unknown_parameter_sends_nothing(api: JobsApi, capsys) -> None:
    code, _, err = _trigger(capsys, "train_models", "--target", "staging", "--param", "modle_type=x")
    assert code == 2
    assert "modle_type" in err and "model_type" in err
    assert api.requests == []


def test_permission_denied_is_one_line(api: JobsApi, capsys) -> None:
    api.forbidden = True
    code, _, err = _trigger(capsys, "train_models", "--target", "staging", "--job-id", "11")
    assert code == 8
    assert len(err.strip().splitlines()) == 1 and "PermissionDenied" in err and "CAN_MANAGE_RUN" in err


def test_without_wait_returns_the_run_at_once(api: JobsApi, capsys) -> None:
    code, envelope, _ = _trigger(capsys, "pipeline", "--target", "prod")
    assert code == 0
    assert envelope["data"]["run_page_url"].endswith("/jobs/13/runs/1000")
    assert envelope["data"]["state"] == {}


def test_missing_credentials_are_one_clear_line(
    api: JobsApi, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABRICKS_HOST")
    monkeypatch.delenv("DATABRICKS_TOKEN")
    code, _, err = _trigger(capsys, "pipeline", "--target", "staging")
    assert code == 8
    assert len(err.strip().splitlines()) == 1 and "no Databricks credentials" in err
    assert api.requests == []
