"""`bricksml run`: the bundle job executes its notebook through a real Jupyter kernel."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from bricksml.bundle import config
from bricksml.bundle.runner import resolve_parameters, task_order
from bricksml.cli.commands import run as run_command
from bricksml.cli.main import main
from bricksml.data.sample import sentiment
from bricksml.errors import BricksmlError

ROOT = Path(__file__).resolve().parents[1]
PARAMS_FILE = ROOT / "jobs" / "create_data.financial_sentiment.json"
DATA = Path("Volumes/main/bricksml/data")


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRICKSML_LOCAL_ROOT", str(tmp_path))
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    for name in ("catalog", "schema", "data_root"):
        monkeypatch.delenv(f"BUNDLE_VAR_{name}", raising=False)
    raw = tmp_path / DATA / "financial_sentiment" / "raw" / "s.csv"
    raw.parent.mkdir(parents=True)
    sentiment(2000, 0).to_csv(raw, index=False)
    return tmp_path


def _run(capsys, *extra: str) -> tuple[int, str, str]:
    code = main(
        [
            "run",
            "create_data",
            "--bundle-root",
            str(ROOT),
            "--params-file",
            str(PARAMS_FILE),
            "--output",
            "json",
            *extra,
        ]
    )
    out, err = capsys.readouterr()
    return code, out, err


def _outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


@pytest.mark.slow
@pytest.mark.xdist_group("kernel")
def test_run_create_data_through_a_kernel(local: Path, capsys) -> None:
    code, out, err = _run(capsys)
    assert code == 0, err
    env = json.loads(out)
    assert env["status"] == "ok"
    assert env["command"] == "run"
    data = env["data"]
    assert data["job"] == "create_data"
    assert data["target"] == "dev"
    assert data["parameters"]["data_root"] == "/Volumes/main/bricksml/data"
    assert data["parameters"]["data_name"] == "financial_sentiment"
    assert Path(data["run_dir"]).is_relative_to(local / "runs" / "create_data")

    version = local / DATA / "financial_sentiment" / "v1"
    assert (version / "manifest.json").is_file()
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["quality"]["rows_in"] == 2000

    [task] = data["tasks"]
    assert task["task_key"] == "create_data"
    # What the notebook ended with (exit_notebook) travels back in the task's result.
    assert task["result"]["quality"]["rows_in"] == 2000
    assert task["result"]["splits"] == {s: manifest["splits"][s]["rows"] for s in manifest["splits"]}
    assert Path(task["notebook"]) == ROOT / "notebooks" / "create_data.ipynb"
    executed = Path(task["executed_notebook"])
    assert executed.is_file()
    nb = nbformat.read(executed, as_version=4)
    outputs = _outputs(nb)
    assert outputs
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "<table" in html and "train" in html and "holdout" in html
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # The source notebook stays clean.
    source = nbformat.read(ROOT / "notebooks" / "create_data.ipynb", as_version=4)
    assert not _outputs(source)


@pytest.mark.slow
@pytest.mark.xdist_group("kernel")
def test_failing_run_keeps_the_executed_notebook(local: Path, capsys) -> None:
    code, out, err = _run(capsys, "--param", "test_size=2")
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error:")
    assert "test_size" in lines[0]
    assert "Traceback" not in err
    env = json.loads(out)
    assert env["status"] == "error"
    assert env["exit_code"] == code

    [executed] = (local / "runs" / "create_data").glob("*/create_data.ipynb")
    assert str(executed) in lines[0]
    nb = nbformat.read(executed, as_version=4)
    errors = [o for o in _outputs(nb) if o.get("output_type") == "error"]
    assert errors
    assert "test_size" in errors[0]["evalue"]
    assert not (local / DATA / "financial_sentiment" / "v1").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("kernel")
def test_unknown_param_names_it_and_the_valid_ones(local: Path, capsys) -> None:
    code, out, err = _run(capsys, "--param", "nope=1")
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "nope" in lines[0]
    assert "data_name" in lines[0] and "test_size" in lines[0]
    assert json.loads(out)["status"] == "error"
    assert not (local / "runs").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("kernel")
def test_bad_param_syntax_and_unknown_job(local: Path, capsys) -> None:
    code, _, err = _run(capsys, "--param", "novalue")
    assert code != 0 and "NAME=VALUE" in err
    code = main(["run", "nope", "--bundle-root", str(ROOT)])
    err = capsys.readouterr().err
    assert code != 0 and "nope" in err and "create_data" in err


def test_resolve_parameters_applies_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUNDLE_VAR_catalog", raising=False)
    bundle = config.load(ROOT, "dev")
    values = resolve_parameters(bundle, "create_data", {"seed": "7"})
    assert values["seed"] == "7"
    assert values["data_root"] == "/Volumes/main/bricksml/data"
    assert all(isinstance(v, str) for v in values.values())
    with pytest.raises(BricksmlError, match="nope"):
        resolve_parameters(bundle, "create_data", {"nope": "1"})


def _task(key: str, *deps: str) -> dict:
    return {"task_key": key, "depends_on": [{"task_key": d} for d in deps]}


def test_task_order_is_topological() -> None:
    job = {"tasks": [_task("c", "b", "a"), _task("b", "a"), _task("a"), _task("d", "c")]}
    order = [t["task_key"] for t in task_order(job, "j")]
    assert sorted(order) == ["a", "b", "c", "d"]
    pos = {k: i for i, k in enumerate(order)}
    for task in job["tasks"]:
        for dep in task["depends_on"]:
            assert pos[dep["task_key"]] < pos[task["task_key"]]


def test_task_order_keeps_independent_tasks_in_declared_order() -> None:
    job = {"tasks": [_task("x"), _task("y"), {"task_key": "z"}]}
    assert [t["task_key"] for t in task_order(job, "j")] == ["x", "y", "z"]
    assert task_order({}, "j") == []


def test_task_order_detects_cycles() -> None:
    job = {"tasks": [_task("a", "c"), _task("b", "a"), _task("c", "b")]}
    with pytest.raises(BricksmlError, match="cycle"):
        task_order(job, "j")
    with pytest.raises(BricksmlError, match="cycle"):
        task_order({"tasks": [_task("self", "self")]}, "j")


def test_task_order_unknown_dependency() -> None:
    with pytest.raises(BricksmlError, match="ghost"):
        task_order({"tasks": [_task("a", "ghost")]}, "j")


@pytest.mark.slow
@pytest.mark.xdist_group("kernel")
def test_run_train_models_runs_train_then_validate_in_kernels(local: Path, capsys) -> None:
    code, _, err = _run(capsys)
    assert code == 0, err
    code = main(
        [
            "run",
            "train_models",
            "--bundle-root",
            str(ROOT),
            "--params-file",
            str(ROOT / "jobs" / "train_models.financial_sentiment.json"),
            "--param",
            "model_name=main.bricksml.fs_job",
            "--output",
            "json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    run = json.loads(out)["data"]
    assert [t["task_key"] for t in run["tasks"]] == ["train", "validate"]
    run_dir = Path(run["run_dir"])
    handed_over = json.loads((run_dir / "task_values" / "train.json").read_text())
    assert handed_over["model_version"] == "1"

    train_nb = nbformat.read(run_dir / "train.ipynb", as_version=4)
    outputs = _outputs(train_nb)
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 6  # confusion, ROC, PR x 2 splits
    assert any("f1_macro" in o.get("data", {}).get("text/plain", "") for o in outputs)

    validate_nb = nbformat.read(run_dir / "validate.ipynb", as_version=4)
    text = "".join(o.get("text", "") for o in _outputs(validate_nb))
    assert "main.bricksml.fs_job v1: promoted" in text
    assert json.loads((run_dir / "task_values" / "validate.json").read_text())["gate_decision"] == "promoted"

    # The run ends with the job's result: the scores on each split, the version and the gate.
    train, validate = (t["result"] for t in run["tasks"])
    assert train["model_name"] == "main.bricksml.fs_job" and train["model_version"] == "1"
    assert validate["decision"] == "promoted" and validate["aliases"]["champion"] == "1"
    text = run_command.render(run)  # what `bricksml run` prints without --output json
    assert "trained logistic_regression on financial_sentiment/v1: main.bricksml.fs_job v1" in text
    for split in ("train", "test", "holdout"):
        [row] = [line.split() for line in text.splitlines() if line.startswith(f"  {split} ")]
        assert row == [
            split,
            f"{train['metrics'][f'{split}_f1_macro']:.4f}",
            f"{train['metrics'][f'{split}_accuracy']:.4f}",
        ]
    assert "gate: PROMOTED - macro-F1 " in text and "v1 is now @champion" in text


@pytest.mark.slow
@pytest.mark.xdist_group("kernel")
def test_run_inference_scores_with_the_champion_in_a_kernel(local: Path, capsys) -> None:
    from bricksml.jobs.train_models import train_models
    from bricksml.jobs.validate_model import validate_model
    from bricksml.params import TrainParams

    code, _, err = _run(capsys)
    assert code == 0, err
    params = TrainParams.parse(
        {"data_name": "financial_sentiment", "data_version": "v1", "model_name": "a.b.fs"}
    )
    validate_model(params, train_models(params).model_version)
    code = main(
        [
            "run",
            "inference",
            "--bundle-root",
            str(ROOT),
            "--params-file",
            str(ROOT / "jobs" / "inference.financial_sentiment.json"),
            "--param",
            "model_name=a.b.fs",
            "--output",
            "json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    run = json.loads(out)["data"]
    outputs = _outputs(nbformat.read(Path(run["run_dir"]) / "inference.ipynb", as_version=4))
    text = "".join(o.get("text", "") for o in outputs)
    assert "with models:/a.b.fs/1 ->" in text
    tables = "".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "prediction" in tables and "f1_macro" in tables
    scored = list((local / "Volumes/main/bricksml/inference/a.b.fs/v1").iterdir())
    assert len(scored) == 1 and (scored[0] / "predictions.parquet").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("kernel")
def test_run_pipeline_retrains_and_scores_in_one_run(local: Path, capsys) -> None:
    code = main(["run", "pipeline", "--bundle-root", str(ROOT), "--param", "id_col=id", "--output", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    run = json.loads(out)["data"]
    assert [t["task_key"] for t in run["tasks"]] == ["create_data", "train", "validate", "inference"]
    assert [t["job"] for t in run["tasks"]] == ["create_data", "train_models", "train_models", "inference"]
    assert (local / DATA / "financial_sentiment" / "v1" / "manifest.json").exists()
    scored = list((local / "Volumes/main/bricksml/inference/main.bricksml.financial_sentiment/v1").iterdir())
    assert len(scored) == 1
    metadata = json.loads((scored[0] / "metadata.json").read_text())
    assert metadata["model"]["asked"] == "models:/main.bricksml.financial_sentiment@champion"
    assert metadata["input"]["source"] == "financial_sentiment/v1/holdout"


def test_dynamic_job_parameter_references_resolve() -> None:
    from bricksml.bundle.runner import dynamic_values

    assert dynamic_values("{{job.parameters.a}}-{{ job.parameters.b }}", {"a": "1", "b": "2"}, "j") == "1-2"
    with pytest.raises(BricksmlError, match=r"\{\{job.parameters.c\}\} names no parameter"):
        dynamic_values("{{job.parameters.c}}", {"a": "1"}, "j")
