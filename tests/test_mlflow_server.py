"""train_models against a real ``mlflow server`` over HTTP: remote tracking, registry and artifacts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from bricksml.cli.main import main
from bricksml.data.sample import sentiment

MODEL_NAME = "main.bricksml.fs"
ROWS = 1500
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Server:
    uri: str
    artifacts: Path  # the server's --artifacts-destination
    process: subprocess.Popen


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(uri: str) -> bool:
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and its workers (its own process group), politely first."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real MLflow tracking server: SQLite backend, proxied artifact storage in a folder."""
    root = tmp_path_factory.mktemp("mlflow-server")
    artifacts = root / "artifacts"
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{root}/server.db",
        "--artifacts-destination",
        str(artifacts),
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(uri):
            if process.poll() is not None or time.monotonic() > deadline:
                state = f"exited with {process.returncode}" if process.poll() is not None else "timed out"
                pytest.fail(f"mlflow server did not start ({state}):\n{log_path.read_text(errors='replace')}")
            time.sleep(0.25)
        yield Server(uri, artifacts, process)
    finally:
        _stop(process)
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


def _envelope(stdout: str) -> dict:
    """The JSON envelope on stdout; found even when other lines precede it (checked separately)."""
    lines = stdout.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("{")), None)
    assert start is not None, f"no JSON envelope on stdout:\n{stdout}"
    return json.loads("".join(lines[start:]))


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[dict, str]:
    """Run one bricksml command with --output json: its envelope's data, and all of its stdout."""
    code = main([*argv, "--output", "json"])
    out, err = capsys.readouterr()
    assert code == 0, f"bricksml {argv[0]} exited {code}\nstdout:\n{out}\nstderr:\n{err}"
    envelope = _envelope(out)
    assert envelope["command"] == argv[0]
    assert envelope["status"] == "ok" and envelope["exit_code"] == 0 and envelope["errors"] == []
    return envelope["data"], out


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.mark.slow
@pytest.mark.xdist_group("mlflow_server")
def test_train_models_tracks_registers_and_uploads_to_a_remote_server(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    local = tmp_path / "local"
    monkeypatch.setenv("BRICKSML_LOCAL_ROOT", str(local))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    raw = sentiment(ROWS, 7)
    csv = tmp_path / "sentiment.csv"
    raw.to_csv(csv, index=False)

    _, create_stdout = _cli(
        capsys,
        "create-data",
        "--data-name",
        "fs",
        "--data-version",
        "v1",
        "--label-col",
        "Sentiment",
        "--text-col",
        "Sentence",
        "--id-col",
        "id",
        "--raw-path",
        str(csv),
    )
    data, train_stdout = _cli(
        capsys, "train", "--data-name", "fs", "--data-version", "v1", "--model-name", MODEL_NAME
    )
    assert {"run_id", "model_uri", "model_name", "model_version", "metrics", "promoted", "gate"} <= set(data)
    assert data["model_name"] == MODEL_NAME
    assert data["model_uri"] == f"models:/{MODEL_NAME}/{data['model_version']}"
    assert data["promoted"] is True and data["gate"]["decision"] == "promoted"

    client = MlflowClient(tracking_uri=server.uri, registry_uri=server.uri)

    # The run, as the server recorded it.
    run = client.get_run(data["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert run.data.params["model_type"] == data["model_type"]
    for key in ("test_f1_macro", "train_f1_macro", "holdout_f1_macro", "test_accuracy", "job_seconds"):
        assert key in run.data.metrics, key
    assert run.data.metrics["test_f1_macro"] == pytest.approx(data["metrics"]["test_f1_macro"])
    assert run.data.tags["data_name"] == "fs"
    assert run.data.tags["data_version"] == "v1"
    assert run.data.tags["data_digest"]
    names = [d.dataset.name for d in run.inputs.dataset_inputs]
    assert names and any("fs/v1/train" in n for n in names), names

    # Its artifacts, listed through the server.
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"plots", "reports"} <= top, top
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert "plots/confusion_matrix_test.png" in plots, plots
    reports = {a.path for a in client.list_artifacts(run.info.run_id, "reports")}
    assert "reports/classification_report_test.json" in reports, reports

    # The registry: the version, its lineage and gate tags, and the champion alias on it.
    version = client.get_model_version(MODEL_NAME, data["model_version"])
    assert version.run_id == run.info.run_id
    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert champion.version == data["model_version"]
    assert champion.tags["gate_decision"] == "promoted"
    assert champion.tags["data_name"] == "fs" and champion.tags["data_version"] == "v1"

    # The model loads back over HTTP, by alias and by version, and predicts the same.
    frame = pd.DataFrame({"Sentence": raw["Sentence"].head(200)})
    by_alias = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}@champion")
    by_version = mlflow.sklearn.load_model(data["model_uri"])
    predicted = by_alias.predict(frame)
    assert len(predicted) == len(frame)
    assert predicted.tolist() == by_version.predict(frame).tolist()

    # The files went through the server's artifact proxy, not next to the local root.
    stored = _files(server.artifacts)
    stored_names = {p.name for p in stored}
    assert {"confusion_matrix_test.png", "classification_report_test.json", "MLmodel"} <= stored_names
    assert any(p.name == "confusion_matrix_test.png" and run.info.run_id in p.parts for p in stored)
    assert _files(local / "mlflow") == []

    # --output json promises one envelope on stdout and nothing else, whatever the tracking store.
    for command, stdout in (("create-data", create_stdout), ("train", train_stdout)):
        extra = stdout[: stdout.find("{")].strip()
        assert not extra, (
            f"bricksml {command} --output json printed more than the envelope on stdout: {extra!r}"
        )
