"""What `bricksml train` and `bricksml ui` tell a person, against a real local MLflow store.

One module-wide store: a small text data version and one model trained through the CLI.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from bricksml.cli.main import main
from bricksml.data import sample
from bricksml.jobs.create_data import create_data
from bricksml.params import CreateDataParams
from bricksml.tracking import ui_links

MODEL = "main.bricksml.fs_reports"
TRAIN = ("train", "--data-name", "fs", "--data-version", "v1", "--model-name", MODEL)


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _errors(err: str) -> list[str]:
    """bricksml's own lines on stderr (MLflow logs its registrations there too), which end it."""
    lines = err.strip().splitlines()
    mine = [line for line in lines if line.startswith("error:")]
    assert not mine or lines[-1] == mine[-1], err
    assert "Traceback" not in err
    return mine


@pytest.fixture(scope="module")
def store(workspace: Path) -> Iterator[dict]:
    """A local mirror with data version fs/v1 and version 1 of MODEL, trained by `bricksml train`."""
    root = workspace
    raw = root / "sentiment.csv"
    sample.sentiment(900, 5).to_csv(raw, index=False)
    params = {
        "data_name": "fs",
        "data_version": "v1",
        "label_col": "Sentiment",
        "text_col": "Sentence",
        "raw_path": str(raw),
    }
    create_data(CreateDataParams.parse(params))
    code, out, err = _cli(*TRAIN)
    assert code == 0, err
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    run_id = client.get_model_version(MODEL, "1").run_id
    experiment = client.get_experiment(client.get_run(run_id).info.experiment_id)
    yield {"root": root, "text": out, "client": client, "experiment": experiment}


# -- bricksml train -------------------------------------------------------------------------------


def test_train_prints_each_split_score_and_the_gate(store: dict) -> None:
    lines = store["text"].splitlines()
    assert lines[0].startswith(f"trained logistic_regression on fs/v1: {MODEL} v1 (MLflow run ")
    header = lines[1].split()
    assert header == ["split", "macro-F1", "accuracy"], lines
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    assert list(rows) == ["train", "test", "holdout"]
    for split, (f1, accuracy) in rows.items():
        assert 0.3 < float(f1) <= 1.0 and 0.3 < float(accuracy) <= 1.0, (split, f1, accuracy)
    gate = next(line for line in lines if line.startswith("gate"))
    assert gate.startswith("gate: PROMOTED - macro-F1 ") and gate.endswith("v1 is now @champion"), gate
    assert "  aliases: @challenger -> v1, @champion -> v1" in lines


def test_train_fail_on_reject_exits_9_and_still_shows_the_scores(store: dict) -> None:
    code, out, err = _cli(*TRAIN, "--gate-min-f1", "0.999", "--fail-on-reject")
    assert code == 9
    assert "gate: REJECTED - macro-F1 " in out and "champion stays v1" in out, out
    assert "holdout" in out
    [line] = _errors(err)
    assert line.startswith(f"error: {MODEL} v2 rejected by the promotion gate (--fail-on-reject): ")
    assert str(store["client"].get_model_version_by_alias(MODEL, "champion").version) == "1"


def test_train_fail_on_reject_json_envelope(store: dict) -> None:
    code, out, err = _cli(*TRAIN, "--gate-min-f1", "0.999", "--fail-on-reject", "--output", "json")
    assert code == 9
    envelope = json.loads(out)
    assert (envelope["status"], envelope["exit_code"], envelope["command"]) == ("error", 9, "train")
    assert "rejected by the promotion gate" in envelope["errors"][0]
    assert _errors(err) == [f"error: {envelope['errors'][0]}"]


# -- bricksml ui ----------------------------------------------------------------------------------


def _ui(*extra: str) -> dict:
    code, out, err = _cli("ui", "--print-command", "--port", "5055", "--output", "json", *extra)
    assert code == 0, err
    return json.loads(out)["data"]


def _runs_url(experiment_id: str) -> str:
    return f"http://127.0.0.1:5055/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def test_ui_opens_on_the_training_experiments_runs(store: dict) -> None:
    experiment = store["experiment"]
    data = _ui()
    assert data["url"] == _runs_url(experiment.experiment_id)
    assert (data["experiment"], data["experiment_id"]) == (experiment.name, experiment.experiment_id)
    assert data["command"][data["command"].index("--port") + 1] == "5055"
    code, text, _ = _cli("ui", "--print-command", "--port", "5055")
    assert code == 0 and _runs_url(experiment.experiment_id) in text


def test_ui_by_experiment_name_and_by_data_set(store: dict) -> None:
    experiment = store["experiment"]
    assert _ui("--experiment", experiment.name)["url"] == _runs_url(experiment.experiment_id)
    assert _ui("--data-name", "fs")["url"] == _runs_url(experiment.experiment_id)
    template = experiment.name.replace("fs", "{data_name}")
    assert _ui("--experiment", template, "--data-name", "fs")["experiment_id"] == experiment.experiment_id


def test_ui_default_follows_the_newest_training_run_wherever_it_is(store: dict) -> None:
    """The bundle's dev target trains under the user's folder: the default finds it there too."""
    client: MlflowClient = store["client"]
    elsewhere = client.create_experiment("/Users/someone@example.com/bricksml/cu")
    later = client.get_run(client.get_model_version(MODEL, "1").run_id).info.start_time + 60_000
    client.create_run(elsewhere, start_time=later, tags={"bricksml.job": "train_models", "data_name": "cu"})
    client.create_run(client.create_experiment("/Shared/scoring"), start_time=later + 1, tags={"x": "y"})
    try:
        assert _ui()["experiment_id"] == elsewhere
        assert _ui("--data-name", "cu")["experiment_id"] == elsewhere
        assert _ui("--data-name", "fs")["experiment_id"] == store["experiment"].experiment_id
    finally:
        client.delete_experiment(elsewhere)
    assert _ui()["experiment_id"] == store["experiment"].experiment_id


@pytest.mark.parametrize(
    "extra",
    [
        ("--experiment", "/Shared/nobody/here"),
        ("--experiment", "/Shared/bricksml/{data_name}", "--data-name", "nope"),
        ("--data-name", "nope"),
    ],
)
def test_ui_without_such_experiment_opens_the_experiment_list(store: dict, extra: tuple[str, ...]) -> None:
    data = _ui(*extra)
    assert data["url"] == "http://127.0.0.1:5055/#/experiments?workflowType=machine_learning"
    assert data["experiment_id"] is None


def test_ui_placeholder_picks_the_data_set_trained_last(store: dict) -> None:
    client: MlflowClient = store["client"]
    training = {"bricksml.job": "train_models"}

    def experiment(name: str, start: int | None, tags: dict | None = None) -> None:
        experiment_id = client.create_experiment(name)
        if start is not None:
            client.create_run(experiment_id, start_time=start, tags=tags or {})

    experiment("/Shared/pick/a", 1_000, training)
    experiment("/Shared/pick/b", 2_000, training)
    experiment("/Shared/pick/inference", 3_000)  # fits the pattern, but holds no training run
    experiment("/Shared/pick/b/deeper", 4_000, training)  # not one data set's experiment
    experiment("/Shared/pickle", 5_000, training)
    experiment("/Shared/pick/c", None)  # the newest experiment, without runs
    assert _ui("--experiment", "/Shared/pick/{data_name}")["experiment"] == "/Shared/pick/b"
    # No training run in any experiment that fits: the experiment list.
    experiment("/Shared/none/inference", 1_000)
    assert _ui("--experiment", "/Shared/none/{data_name}")["experiment_id"] is None


def test_ui_data_name_must_be_a_plain_name_and_fill_a_placeholder(store: dict) -> None:
    code, _, err = _cli("ui", "--print-command", "--data-name", "../up")
    assert code == 2 and "--data-name" in err and len(err.strip().splitlines()) == 1
    code, _, err = _cli("ui", "--print-command", "--experiment", "/Shared/x", "--data-name", "fs")
    assert code == 2 and "{data_name}" in err


def test_ui_links() -> None:
    assert ui_links.base_url("0.0.0.0", 80) == "http://127.0.0.1:80"
    assert ui_links.base_url("::1", 80) == "http://[::1]:80"
    assert ui_links.base_url("example.org", 8) == "http://example.org:8"
    base = "http://h:1/"
    assert (
        ui_links.run_url(base, "4", "abc")
        == "http://h:1/#/experiments/4/runs/abc?workflowType=machine_learning"
    )
    assert (
        ui_links.model_version_url(base, "main.s.m", "3")
        == "http://h:1/#/models/main.s.m/versions/3?workflowType=machine_learning"
    )
    assert ui_links.experiment_kind_tags() == {"mlflow.experimentKind": "custom_model_development"}
