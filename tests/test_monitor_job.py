"""The monitor job end to end: report and MLflow run of a window, bad input, rollback, retrain."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from bricksml import layout, runtime
from bricksml.bundle import config, runner
from bricksml.cli.main import main
from bricksml.data import sample
from bricksml.jobs.inference import run_inference
from bricksml.jobs.monitor import run_monitor
from bricksml.jobs.train_models import train_models
from bricksml.jobs.validate_model import validate_model
from bricksml.params import InferenceParams, TrainParams
from bricksml.params.monitor import DEFAULT_EXPERIMENT, MonitorParams
from bricksml.tracking import registry, rollback
from tests.helpers import SENTIMENT, make_version

# One worker trains the models once for every test of the module.
pytestmark = pytest.mark.xdist_group("monitor_job")

ROOT = Path(__file__).resolve().parents[1]
MODEL = "main.bricksml.fs"
OUTPUTS = "/Volumes/main/bricksml/inference"
SUMMARY_KEYS = {
    "decision",
    "reasons",
    "window",
    "reference",
    "model",
    "signals",
    "drifted_features",
    "plots",
    "mlflow_run_id",
}
SIGNAL_KEYS = {"name", "kind", "metric", "value", "threshold_warning", "threshold_alert", "status", "reason"}


def _batch(root: Path, name: str, frame: pd.DataFrame, model_uri: str) -> str:
    """``frame`` scored by ``model_uri`` as an inference output folder (what a window is made of)."""
    path = root / f"{name}.parquet"
    frame.to_parquet(path, index=False)
    return run_inference(InferenceParams.parse({"model_uri": model_uri, "input_path": str(path)})).output_path


@pytest.fixture(scope="module")
def trained(workspace: Path) -> Iterator[dict]:
    """v1 of the model, champion, and a drifted batch it scored."""
    make_version(workspace, "fs", sample.sentiment(800, 11), SENTIMENT)
    good = TrainParams.parse({"data_name": "fs", "data_version": "v1"})
    validate_model(good, train_models(good).model_version)
    drift = sample.sentiment(600, 21, "vocabulary=0.6,label=0.5")
    yield {"root": workspace, "drifted": _batch(workspace, "drifted", drift, f"models:/{MODEL}/1")}


@pytest.fixture(scope="module")
def weak_champion(trained: dict) -> dict:
    """v2, a weak model the gate was told to promote over v1 (so v1 is its previous champion)."""
    weak = TrainParams.parse(
        {
            "data_name": "fs",
            "data_version": "v1",
            "model_params": '{"C": 0.02}',
            "gate_min_f1": "0",
            "gate_baseline_margin": "0",
            "gate_max_drop": "1",
            "gate_tie": "promote",
        }
    )
    assert validate_model(weak, train_models(weak).model_version).promoted
    assert registry.aliases(MODEL)["champion"] == "2"
    return trained


def _monitoring_folders(root: Path) -> list[Path]:
    return sorted(p for p in (root / OUTPUTS.lstrip("/")).rglob("monitoring/*") if p.is_dir())


def _runs() -> int:
    experiment = mlflow.get_experiment_by_name(DEFAULT_EXPERIMENT)
    if experiment is None:
        return 0
    return len(MlflowClient().search_runs([experiment.experiment_id], run_view_type=3))


def test_a_drifted_window_is_reported_with_its_signals_plots_and_mlflow_run(
    trained: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(runtime.RUN_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(runtime.TASK_KEY_ENV, "monitor")
    result = run_monitor(
        MonitorParams.parse(
            {"model_uri": f"models:/{MODEL}/1", "on_drift": "retrain", "serving_endpoint": ""}
        )
    )
    out = Path(result.output_path)
    assert out.parent == layout.monitoring_dir(OUTPUTS, f"{MODEL}/v1", "x").parent
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == SUMMARY_KEYS
    assert summary == json.loads(json.dumps(result.summary))
    assert summary["decision"] == "alert"
    assert summary["reference"] == {"data_name": "fs", "data_version": "v1", "split": "train"}
    assert summary["model"]["model_version"] == "1"
    assert summary["window"]["rows"] == 600
    assert summary["drifted_features"] == ["Sentence"]
    assert all(set(s) == SIGNAL_KEYS for s in summary["signals"])
    flagged = {(s["name"], s["metric"]) for s in summary["signals"] if s["status"] == "alert"}
    assert {
        ("Sentence", "oov_share_increase"),
        ("prediction", "psi"),
        ("f1_macro", "f1_macro_drop"),
    } <= flagged
    page = (out / "report.html").read_text()
    assert summary["plots"] and "feature_Sentence" in summary["plots"]
    for name in summary["plots"].values():
        assert (out / name).read_bytes().startswith(b"\x89PNG")
        assert f"src='{name}'" in page
    assert "<span class='badge alert'>alert</span>" in page
    run = MlflowClient().get_run(summary["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["decision"] == "alert" and run.data.tags["model_version"] == "1"
    assert run.data.metrics["feature.Sentence.oov_share_increase"] > 0.15
    logged = {f.path for f in MlflowClient().list_artifacts(run.info.run_id, "monitoring")}
    assert {"monitoring/summary.json", "monitoring/report.html"} <= logged
    values = json.loads((tmp_path / "task_values" / "monitor.json").read_text())
    assert values["decision"] == "alert" and values["retrain"] == "true"
    assert values["retrain_data_name"] == "fs" and values["retrain_data_version"].startswith("v1-r")
    assert (values["retrain_label_col"], values["retrain_text_col"]) == ("Sentiment", "Sentence")


def test_an_alert_fails_the_command_when_asked_after_writing_the_report(trained: dict, capsys) -> None:
    before = _monitoring_folders(trained["root"])
    code = main(["monitor", "--model-uri", f"models:/{MODEL}/1", "--on-alert", "fail", "--output", "json"])
    captured = capsys.readouterr()
    assert code == 9
    envelope = json.loads(captured.out)
    assert envelope["status"] == "error" and envelope["data"]["decision"] == "alert"
    assert captured.err.startswith("error: monitor: alert on models:/main.bricksml.fs/1: alert: ")
    assert len(captured.err.strip().splitlines()) == 1
    written = sorted(set(_monitoring_folders(trained["root"])) - set(before))
    assert [str(p) for p in written] == [envelope["data"]["output_path"]]


@pytest.fixture(scope="module")
def bad_inputs(trained: dict) -> dict[str, list[str]]:
    root = trained["root"]
    holdout = pd.read_parquet(root / "Volumes/main/bricksml/data/fs/v1/holdout.parquet")
    holdout[["id", "Sentiment"]].to_csv(root / "no_text.csv", index=False)
    other = holdout.assign(id=holdout["id"] + 900_000)[["id", "Sentiment"]]
    other.to_csv(root / "other_labels.csv", index=False)
    client = MlflowClient()
    client.create_registered_model("main.bricksml.nolineage")
    client.create_model_version("main.bricksml.nolineage", registry.version(MODEL, "1").source)
    uri = ["--model-uri", f"models:/{MODEL}/1"]
    return {
        "no rows": [*uri, "--since", "2020-01-01", "--until", "2020-01-02"],
        "no lineage": ["--model-uri", "models:/main.bricksml.nolineage/1"],
        "columns missing": [*uri, "--input-path", str(root / "no_text.csv")],
        "labels do not join": [*uri, "--labels-path", str(root / "other_labels.csv")],
    }


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "no rows",
            "error: the window 2020-01-01T00:00:00+00:00 to 2020-01-02T00:00:00+00:00 holds no prediction of",
        ),
        (
            "no lineage",
            "error: models:/main.bricksml.nolineage/1 has no lineage (no data_name/data_version tags)",
        ),
        ("columns missing", "error: input_path '"),
        ("labels do not join", "error: labels_path '"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    trained: dict, bad_inputs: dict, case: str, message: str, capsys
) -> None:
    folders, runs = _monitoring_folders(trained["root"]), _runs()
    code = main(["monitor", *bad_inputs[case], "--serving-endpoint", ""])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3, err
    assert len(err) == 1 and err[0].startswith(message), err
    if case == "columns missing":
        assert "lacks the model's column(s) ['Sentence']" in err[0]
    if case == "labels do not join":
        assert "none of its" in err[0] and "joins the window's 600 rows on 'id'" in err[0]
    assert _monitoring_folders(trained["root"]) == folders
    assert _runs() == runs
    assert not list(trained["root"].rglob(".tmp-*"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def server(weak_champion: dict) -> Iterator[str]:
    """``bricksml serve`` of the champion, following it, logging every request."""
    port = _free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "bricksml.cli.main", "serve", "--model-name", MODEL),
            *("--port", str(port), "--poll-seconds", "0.2", "--log-flush-seconds", "0.2"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> dict | None:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            return httpx.get(f"{base}/ready", timeout=1).json()
        except httpx.TransportError:
            return None

    try:
        _wait(ready, 60, "the server")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.slow
def test_a_degraded_champion_is_rolled_back_and_the_server_follows(weak_champion: dict, server: str) -> None:
    root = weak_champion["root"]
    window = sample.sentiment(400, 31)
    _batch(root, "labelled", window, f"models:/{MODEL}@champion")  # scored by v2, labels carried
    url = f"{server}/serving-endpoints/bricksml-fs/invocations"
    rows = window[["Sentence"]].head(20)
    for start in range(0, 20, 5):
        body = {"dataframe_split": rows.iloc[start : start + 5].to_dict(orient="split", index=False)}
        assert httpx.post(url, json=body, timeout=10).json()["served_model_version"] == "2"
    assert httpx.post(url, json={"inputs": {"Text": ["no such column"]}}, timeout=10).status_code == 400
    table = layout.local_table_dir("main.bricksml.bricksml_fs_payload")
    _wait(lambda: sum(len(pd.read_parquet(f)) for f in table.glob("*.parquet")) == 5, 10, "the request log")

    result = run_monitor(
        MonitorParams.parse({"model_name": MODEL, "on_degradation": "rollback", "max_drop": "0.05"})
    )
    assert result.rollback["from_version"] == "2" and result.rollback["to_version"] == "1"
    assert registry.aliases(MODEL)["champion"] == "1"
    for number in ("1", "2"):
        record = json.loads(registry.version(MODEL, number).tags[rollback.ROLLBACK_RECORD])
        assert (record["from_version"], record["to_version"], record["state"]) == ("2", "1", "done")
    signals = {(s["name"], s["metric"]): s for s in result.summary["signals"]}
    assert signals[("failed_requests", "failed_share")]["value"] == pytest.approx(1 / 5)
    assert signals[("v1", "f1_macro_below_previous_champion")]["status"] == "alert"
    assert result.summary["window"]["rows"] == 400 + 20
    assert any(r.startswith("rollback: champion moved from v2 back to v1") for r in result.reasons)

    _wait(lambda: httpx.get(f"{server}/ready", timeout=1).json()["served_model_version"] == "1", 10, "a swap")
    body = {"dataframe_split": rows.head(1).to_dict(orient="split", index=False)}
    assert httpx.post(url, json=body, timeout=10).json()["served_model_version"] == "1"


STUB_PIPELINE = {
    "resources": {
        "jobs": {
            "pipeline": {
                "name": "bricksml-pipeline",
                "parameters": [
                    {"name": name, "default": ""}
                    for name in ("data_name", "data_version", "label_col", "text_col", "id_col", "model_type")
                ],
                "tasks": [
                    {"task_key": "retrain", "notebook_task": {"notebook_path": "../notebooks/echo.ipynb"}}
                ],
            }
        }
    }
}
ECHO = """from bricksml.runtime import exit_notebook, read_job_parameters

names = ["data_name", "data_version", "label_col", "text_col", "id_col", "model_type"]
exit_notebook({"retrained_with": read_job_parameters(names, {})})
"""


@pytest.mark.slow
def test_a_drift_alert_runs_the_retrain_branch_of_the_bundle_job(trained: dict, tmp_path: Path) -> None:
    """``bricksml run monitor``: the notebook, the condition on its task value, the run_job_task."""
    import nbformat

    bundle_root = tmp_path / "bundle"
    (bundle_root / "resources").mkdir(parents=True)
    (bundle_root / "notebooks").mkdir()
    shutil.copy(ROOT / "databricks.yml", bundle_root)
    for path in (ROOT / "resources").glob("*.yml"):
        if path.name == "monitor.job.yml" or ".job." not in path.name:
            shutil.copy(path, bundle_root / "resources")
    shutil.copy(ROOT / "notebooks/monitor.ipynb", bundle_root / "notebooks")
    (bundle_root / "resources/pipeline.job.yml").write_text(yaml.safe_dump(STUB_PIPELINE))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(ECHO)])
    nbformat.write(nb, bundle_root / "notebooks/echo.ipynb")
    real = config.load(ROOT, "dev")
    passed = real.job("monitor")["tasks"][-1]["run_job_task"]["job_parameters"]
    assert set(passed) <= {p["name"] for p in real.job("pipeline")["parameters"]}

    bundle = config.load(bundle_root, "dev")
    run = runner.run_job(
        bundle,
        "monitor",
        {"model_uri": f"models:/{MODEL}/1", "input_path": trained["drifted"], "on_drift": "retrain"},
    )
    assert [(t.job, t.task_key) for t in run.tasks] == [("monitor", "monitor"), ("pipeline", "retrain")]
    monitored = run.tasks[0].result
    assert monitored["decision"] == "alert" and monitored["retrain"] is True
    retrained = run.tasks[1].result["retrained_with"]
    assert retrained == {
        "data_name": "fs",
        "data_version": monitored["task_values"]["retrain_data_version"],
        "label_col": "Sentiment",
        "text_col": "Sentence",
        "id_col": "id",
        "model_type": "logistic_regression",
    }
