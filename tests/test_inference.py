"""inference: model by run id / URI / alias, chunked scoring, immutable output, clear errors."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from bricksml.cli.main import main
from bricksml.data import sample
from bricksml.errors import DataError, ParameterError, RegistryError
from bricksml.inference import source
from bricksml.inference import spark as spark_module
from bricksml.jobs.inference import run_inference
from bricksml.jobs.train_models import train_models
from bricksml.jobs.validate_model import validate_model
from bricksml.params import InferenceParams, TrainParams
from bricksml.tracking import setup
from tests.helpers import SENTIMENT, make_version

MODEL = "main.bricksml.fs_infer"
DATA = Path("Volumes/main/bricksml/data")
OUTPUT = Path("Volumes/main/bricksml/inference")


@pytest.fixture(scope="module")
def trained(workspace: Path) -> Iterator[dict]:
    """A text data version, one registered champion, and the holdout split as raw files."""
    root = workspace
    make_version(root, "fs", sample.sentiment(1500, 11), SENTIMENT)
    params = TrainParams.parse({"data_name": "fs", "data_version": "v1", "model_name": MODEL})
    result = train_models(params)
    validate_model(params, result.model_version)
    holdout = pd.read_parquet(root / DATA / "fs/v1/holdout.parquet")
    yield {"root": root, "run_id": result.run_id, "version": result.model_version, "holdout": holdout}


def _infer(**raw: str) -> object:
    return run_inference(InferenceParams.parse(raw))


def _predictions(result) -> pd.DataFrame:
    return pd.read_parquet(Path(result.output_path) / "predictions.parquet")


def _expected(trained: dict, frame: pd.DataFrame) -> np.ndarray:
    model = mlflow.sklearn.load_model(f"models:/{MODEL}/{trained['version']}")
    return model.predict(frame[["Sentence"]])


@pytest.mark.parametrize(
    "how",
    ["run_id", "version", "alias", "runs_uri", "name_alias"],
)
def test_every_way_to_name_the_model_gives_the_model_predictions(trained: dict, how: str) -> None:
    asked = {
        "run_id": {"run_id": trained["run_id"]},
        "version": {"model_uri": f"models:/{MODEL}/{trained['version']}"},
        "alias": {"model_uri": f"models:/{MODEL}@champion"},
        "runs_uri": {"model_uri": f"runs:/{trained['run_id']}/model"},
        "name_alias": {"model_name": MODEL, "model_alias": "champion"},
    }[how]
    result = _infer(**asked, data_name="fs", data_version="v1")
    assert result.model_version == trained["version"]
    assert result.model_run_id == trained["run_id"]
    assert result.input == "fs/v1/holdout"
    predictions = _predictions(result)
    holdout = trained["holdout"]
    assert len(predictions) == len(holdout) == result.rows
    assert predictions["id"].tolist() == holdout["id"].tolist()
    assert predictions["prediction"].astype(str).tolist() == _expected(trained, holdout).tolist()


def test_output_has_the_documented_columns_and_metadata(trained: dict) -> None:
    result = _infer(
        model_name=MODEL, data_name="fs", data_version="v1", split="test", carry_columns="Sentence"
    )
    out = Path(result.output_path)
    assert out.parent.parent == trained["root"] / OUTPUT / MODEL
    assert out.parent.name == f"v{trained['version']}"
    predictions = _predictions(result)
    assert list(predictions.columns) == [
        "id",
        "Sentence",
        "prediction",
        "probability_negative",
        "probability_neutral",
        "probability_positive",
        "model_version",
        "scored_at",
    ]
    probabilities = predictions.filter(like="probability_").to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    assert set(predictions["model_version"].astype(str)) == {trained["version"]}
    assert str(predictions["scored_at"].dtype) == "datetime64[us, UTC]"
    metadata = json.loads((out / "metadata.json").read_text())
    manifest = json.loads((trained["root"] / DATA / "fs/v1/manifest.json").read_text())
    assert metadata["model"]["model_version"] == trained["version"]
    assert metadata["model"]["run_id"] == trained["run_id"]
    assert metadata["input"]["source"] == "fs/v1/test"
    assert metadata["input"]["digest"] == manifest["splits"]["test"]["sha256"]
    assert metadata["rows"] == len(predictions)
    assert sum(metadata["prediction_counts"].values()) == len(predictions)


def test_labels_give_metrics_in_an_mlflow_run_linked_to_the_model(trained: dict) -> None:
    result = _infer(model_name=MODEL, data_name="fs", data_version="v1")
    assert result.metrics["f1_macro"] > 0.8
    run = MlflowClient().get_run(result.mlflow_run_id)
    assert run.data.tags["model_version"] == trained["version"]
    assert run.data.tags["model_run_id"] == trained["run_id"]
    assert run.data.metrics["inference_f1_macro"] == pytest.approx(result.metrics["f1_macro"])
    assert run.data.metrics["rows"] == result.rows


def test_chunked_scoring_equals_unchunked(trained: dict) -> None:
    whole = _predictions(_infer(model_name=MODEL, data_name="fs", data_version="v1", batch_size="100000"))
    chunked = _predictions(_infer(model_name=MODEL, data_name="fs", data_version="v1", batch_size="7"))
    pd.testing.assert_frame_equal(whole.drop(columns="scored_at"), chunked.drop(columns="scored_at"))


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_files_and_folders_score_like_the_split(trained: dict, tmp_path: Path, suffix: str) -> None:
    holdout = trained["holdout"].assign(extra_column=1)
    folder = tmp_path / "in"
    folder.mkdir()
    halves = [holdout.iloc[: len(holdout) // 2], holdout.iloc[len(holdout) // 2 :]]
    for index, part in enumerate(halves):
        path = folder / f"part{index}{suffix}"
        if suffix == ".csv":
            part.to_csv(path, index=False)
        elif suffix == ".tsv":
            part.to_csv(path, index=False, sep="\t")
        elif suffix == ".jsonl":
            part.to_json(path, orient="records", lines=True)
        else:
            part.to_parquet(path, index=False)
    result = _infer(model_name=MODEL, input_path=str(folder), batch_size="50")
    predictions = _predictions(result)
    assert predictions["prediction"].astype(str).tolist() == _expected(trained, holdout).tolist()
    assert predictions["id"].astype(str).tolist() == holdout["id"].astype(str).tolist()
    assert result.metrics is not None  # the label column travelled with the files


def test_null_text_scores_as_empty_text_and_is_counted(trained: dict, tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [1, 2, 3], "Sentence": ["Profit rose 20%", None, ""]})
    path = tmp_path / "nulls.parquet"
    frame.to_parquet(path, index=False)
    result = _infer(model_name=MODEL, input_path=str(path))
    assert result.null_text == 1
    predictions = _predictions(result)
    np.testing.assert_allclose(
        predictions.filter(like="probability_").iloc[1], predictions.filter(like="probability_").iloc[2]
    )
    assert result.metrics is None  # no label column


def test_missing_column_fails_before_scoring_and_names_it(trained: dict, tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    pd.DataFrame({"id": [1], "Text": ["Profit rose"]}).to_csv(path, index=False)
    with pytest.raises(
        DataError, match=r"lacks the model's column\(s\) \['Sentence'\]; it has \['id', 'Text'\]"
    ):
        _infer(model_name=MODEL, input_path=str(path))
    assert not (trained["root"] / OUTPUT / MODEL / "v1").exists() or all(
        (p / "predictions.parquet").exists() for p in (trained["root"] / OUTPUT / MODEL / "v1").iterdir()
    )


@pytest.mark.parametrize(
    ("asked", "pattern"),
    [
        (
            {"model_name": MODEL, "model_alias": "gold"},
            r"@gold: no such alias; model .* has versions 1 \(@challenger",
        ),
        (
            {"model_name": "main.bricksml.nope"},
            r"model main.bricksml.nope does not exist; registered models: .*fs_infer",
        ),
        (
            {"run_id": "0" * 32},
            r"run_id 0{32}: no such run .* latest registered versions: main.bricksml.fs_infer v1",
        ),
        ({"model_uri": f"models:/{MODEL}/9"}, r"has no version 9; existing versions: 1"),
    ],
)
def test_unknown_model_names_what_was_asked_and_what_exists(trained: dict, asked: dict, pattern: str) -> None:
    with pytest.raises(RegistryError, match=pattern):
        _infer(**asked, data_name="fs", data_version="v1")


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ({"run_id": "abc"}, "run_id"),
        ({"model_uri": "s3://bucket/model"}, "model_uri"),
        ({"run_id": "a" * 32, "model_uri": "models:/a.b.c/1"}, "model_uri"),
        ({}, "model_name"),
        ({"model_name": MODEL}, "input_path"),
        ({"model_name": MODEL, "input_path": "x.csv", "batch_size": "0"}, "batch_size"),
        ({"model_name": MODEL, "input_path": "x.csv", "split": "validation"}, "split"),
        ({"model_name": MODEL, "input_path": "x.csv", "input_table": "a.b.c"}, "input_table"),
    ],
)
def test_bad_parameters_name_the_parameter(raw: dict, name: str) -> None:
    with pytest.raises(ParameterError) as caught:
        InferenceParams.parse(raw)
    assert caught.value.name == name


def test_spark_table_without_spark_is_a_clear_error_and_writes_nothing(
    trained: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A machine without pyspark: importing it fails (a None entry makes `import` raise ImportError).
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    outputs = trained["root"] / OUTPUT / MODEL
    before = sorted(p.name for p in outputs.rglob("*")) if outputs.exists() else []
    with pytest.raises(DataError, match="input_table needs Spark"):
        _infer(model_name=MODEL, input_table="main.bricksml.new_sentences")
    assert (sorted(p.name for p in outputs.rglob("*")) if outputs.exists() else []) == before


def test_unknown_carry_column_is_refused(trained: dict) -> None:
    with pytest.raises(ParameterError, match="carry_columns"):
        _infer(model_name=MODEL, data_name="fs", data_version="v1", carry_columns="nope")


def test_failure_mid_scoring_leaves_nothing(trained: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    real = source.iter_frames

    def failing(*args, **kwargs):
        for index, frame in enumerate(real(*args, **kwargs)):
            if index == 2:  # not an OSError: those are the output root's (tests/test_inference_inputs.py)
                raise RuntimeError("the process went away")
            yield frame

    monkeypatch.setattr(source, "iter_frames", failing)
    versions = trained["root"] / OUTPUT / MODEL / f"v{trained['version']}"
    before = set(versions.iterdir()) if versions.exists() else set()
    with pytest.raises(RuntimeError, match="the process went away"):
        _infer(model_name=MODEL, data_name="fs", data_version="v1", batch_size="10")
    # The version's folder may not have existed before: then it must not exist after either.
    assert (set(versions.iterdir()) if versions.exists() else set()) == before


KILL_SCRIPT = """
import sys
from bricksml.jobs.inference import run_inference
from bricksml.params import InferenceParams
raw = {"model_name": sys.argv[1], "input_path": sys.argv[2], "batch_size": "500"}
run_inference(InferenceParams.parse(raw))
"""


@pytest.mark.slow
def test_killed_run_leaves_no_output_folder(trained: dict, tmp_path: Path) -> None:
    big = tmp_path / "big.parquet"
    sample.sentiment(60_000, 2).to_parquet(big, index=False)
    env = {**os.environ, "BRICKSML_LOCAL_ROOT": str(trained["root"])}
    versions = trained["root"] / OUTPUT / MODEL / f"v{trained['version']}"
    before = {p.name for p in versions.iterdir()} if versions.exists() else set()
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, MODEL, str(big)], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(p.name.startswith(".tmp-") for p in _ls(versions)):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.name for p in _ls(versions) if not p.name.startswith(".")} - before
    assert finished == set(), "a killed run left an output folder"
    done = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, MODEL, str(big)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert [p.name for p in _ls(versions) if p.name.startswith(".tmp-")] == []


def _ls(path: Path) -> list[Path]:
    return list(path.iterdir()) if path.exists() else []


def test_cli_infer_outputs_the_promised_json(trained: dict, capsys) -> None:
    code = main(
        ["infer", "--model-name", MODEL, "--data-name", "fs", "--data-version", "v1", "--output", "json"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)["data"]
    for key in ("output_path", "rows", "model_uri", "model_version", "metrics"):
        assert key in data
    assert data["model_uri"] == f"models:/{MODEL}/{trained['version']}"
    assert Path(data["output_path"], "predictions.parquet").exists()


def test_cli_infer_bad_input_is_one_line(trained: dict, tmp_path: Path, capsys) -> None:
    path = tmp_path / "wrong.csv"
    pd.DataFrame({"Text": ["x"]}).to_csv(path, index=False)
    code = main(["infer", "--model-name", MODEL, "--input-path", str(path)])
    err = capsys.readouterr().err
    assert code == 3
    assert len(err.strip().splitlines()) == 1 and "Sentence" in err


def _logged_model_id(trained: dict) -> str:
    experiment = MlflowClient().get_run(trained["run_id"]).info.experiment_id
    found = mlflow.search_logged_models(
        experiment_ids=[experiment],
        filter_string=f"source_run_id = '{trained['run_id']}'",
        output_format="list",
    )
    assert len(found) == 1, found
    return found[0].model_id


def _cli_infer(capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["infer", *args, "--output", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_cli_logged_model_id_scores_exactly_as_its_version(trained: dict, capsys) -> None:
    model_id = _logged_model_id(trained)
    data_args = ("--data-name", "fs", "--data-version", "v1")
    code, by_id, err = _cli_infer(capsys, "--model-uri", f"models:/{model_id}", *data_args)
    assert code == 0, err
    code, by_version, err = _cli_infer(
        capsys, "--model-uri", f"models:/{MODEL}/{trained['version']}", *data_args
    )
    assert code == 0, err
    for key in ("model_uri", "model_name", "model_version", "model_run_id", "rows", "prediction_counts"):
        assert by_id["data"][key] == by_version["data"][key], key
    assert by_id["data"]["model_uri"] == f"models:/{MODEL}/{trained['version']}"
    first, second = (
        pd.read_parquet(Path(d["data"]["output_path"], "predictions.parquet")).drop(columns="scored_at")
        for d in (by_id, by_version)
    )
    pd.testing.assert_frame_equal(first, second)
    metadata = json.loads(Path(by_id["data"]["output_path"], "metadata.json").read_text())
    assert metadata["model"]["asked"] == f"models:/{model_id}"


def test_cli_unknown_logged_model_id_is_one_line_naming_it(trained: dict, capsys) -> None:
    asked = "models:/m-" + "0" * 32
    code = main(["infer", "--model-uri", asked, "--data-name", "fs", "--data-version", "v1"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert f"{asked}: no such logged model" in err
    assert f"{MODEL} v{trained['version']} (models:/{_logged_model_id(trained)})" in err


def test_unregistered_logged_model_scores_under_its_id(trained: dict, tmp_path: Path) -> None:
    """A model logged but never registered: scored by its id, its output under the id, its run named."""
    version_uri = f"models:/{MODEL}/{trained['version']}"
    local = Path(mlflow.artifacts.download_artifacts(version_uri, dst_path=str(tmp_path / "model")))
    conf = mlflow.models.Model.load(str(local)).flavors["sklearn"]
    with mlflow.start_run(experiment_id=setup.experiment_id("/Shared/bricksml/tests")) as run:
        info = mlflow.sklearn.log_model(
            mlflow.sklearn.load_model(version_uri),
            name="model",
            serialization_format="skops",
            skops_trusted_types=conf["skops_trusted_types"],
            signature=mlflow.models.get_model_info(version_uri).signature,
            pip_requirements=[],
        )
    holdout = trained["holdout"]
    path = tmp_path / "holdout.parquet"
    holdout.to_parquet(path, index=False)
    result = _infer(model_uri=f"models:/{info.model_id}", input_path=str(path))
    assert (result.model_name, result.model_version) == ("", "")
    assert result.model_uri == f"models:/{info.model_id}"
    assert result.model_run_id == run.info.run_id
    assert Path(result.output_path).parent == trained["root"] / OUTPUT / info.model_id
    predictions = _predictions(result)
    assert predictions["prediction"].astype(str).tolist() == _expected(trained, holdout).tolist()


NO_SESSION_SCRIPT = """
import sys
from bricksml.cli.main import main
sys.exit(main(["infer", "--model-name", sys.argv[1], "--input-table", "main.bricksml.new_sentences"]))
"""


def test_spark_table_with_pyspark_but_no_session_is_a_clear_error(trained: dict) -> None:
    """pyspark installed (the dev extras), no Spark session: a laptop; a fresh process has none."""
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed; the test above checks the error without it")
    outputs = trained["root"] / OUTPUT / MODEL
    before = sorted(p.name for p in outputs.rglob("*")) if outputs.exists() else []
    env = {**os.environ, "BRICKSML_LOCAL_ROOT": str(trained["root"])}
    done = subprocess.run(
        [sys.executable, "-c", NO_SESSION_SCRIPT, MODEL], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith(spark_module.NEEDS_SPARK), done.stderr
    assert (sorted(p.name for p in outputs.rglob("*")) if outputs.exists() else []) == before
