"""train_models: values no feature can be made of are a data error before any run, never exit 70."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from bricksml.cli.main import main
from bricksml.jobs.create_data import create_data
from bricksml.models.features import value_problem
from bricksml.params import CreateDataParams

ROWS = 400


def _table(**columns: object) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"id": np.arange(ROWS), "x": rng.normal(size=ROWS), "label": rng.choice(["a", "b"], ROWS)}
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def _with(values: np.ndarray, at: int, value: float) -> np.ndarray:
    values = values.copy()
    values[at] = value
    return values


CASES = {
    # name: (frame, text column, fragment of the one-line error)
    "infinite": (_table(y=_with(np.linspace(0, 1, ROWS), 7, np.inf)), "", "'y' holds 1 infinite value"),
    "huge": (_table(y=_with(np.linspace(0, 1, ROWS), 3, 1e300)), "", "too large to scale"),
    "dates": (_table(when=pd.date_range("2024-01-01", periods=ROWS, freq="h")), "", "'when' holds dates"),
}


@pytest.fixture(scope="module")
def store(workspace: Path) -> Iterator[Path]:
    root = workspace
    for name, (frame, text_col, _) in CASES.items():
        path = root / f"{name}.parquet"
        frame.to_parquet(path)
        raw = {"data_name": name, "data_version": "v1", "label_col": "label", "id_col": "id"}
        create_data(CreateDataParams.parse({**raw, "text_col": text_col, "raw_path": str(path)}))
    leaky = _table()
    leaky["settled"] = np.where(leaky["label"] == "a", 1.0, 0.0) + np.random.default_rng(1).normal(
        0, 0.01, ROWS
    )
    path = root / "leaky.parquet"
    leaky.to_parquet(path)
    create_data(
        CreateDataParams.parse(
            {
                "data_name": "leaky",
                "data_version": "v1",
                "label_col": "label",
                "id_col": "id",
                "raw_path": str(path),
            }
        )
    )
    yield root


@pytest.mark.parametrize("case", sorted(CASES))
def test_unusable_values_are_one_data_error_before_any_run(store: Path, capsys, case: str) -> None:
    experiment = f"/Shared/values/{case}"
    code = main(["train", "--data-name", case, "--data-version", "v1", "--experiment-name", experiment])
    err = capsys.readouterr().err.strip()
    assert code == 3, err
    assert len(err.splitlines()) == 1 and CASES[case][2] in err
    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow' / 'mlflow.db'}")
    assert mlflow.get_experiment_by_name(experiment) is None


def test_a_text_column_of_numbers_is_no_text_to_train_on() -> None:
    """create_data refuses such a text column (tests/test_bad_inputs.py); a version made before it did
    is refused at training, by the same check the job runs on every split."""
    frame = _table(note=np.arange(ROWS) % 50)
    problem = value_problem(frame, ["note", "x"], "note")
    assert problem is not None and "text_col 'note' holds integer values" in problem
    assert value_problem(frame.assign(note=frame["note"].astype(str)), ["note", "x"], "note") is None


def test_a_dropped_date_column_no_longer_stops_training(store: Path, capsys) -> None:
    args = ["train", "--data-name", "dates", "--data-version", "v1", "--gate-mode", "disabled"]
    assert main([*args, "--feature-params", '{"drop_columns": ["when"]}']) == 0, capsys.readouterr().err


def test_a_suspected_leak_is_named_on_the_training_run_until_dropped(store: Path, capsys) -> None:
    manifest = json.loads((store / "Volumes/main/bricksml/data/leaky/v1/manifest.json").read_text())
    assert [leak["column"] for leak in manifest["quality"]["suspected_leaks"]] == ["settled"]
    args = ["train", "--data-name", "leaky", "--data-version", "v1", "--gate-mode", "disabled"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "warning: column 'settled' is a suspected leak" in out and '{"drop_columns": ["settled"]}' in out
    args += ["--output", "json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)["data"]
    assert [leak["column"] for leak in result["suspected_leaks"]] == ["settled"]
    assert MlflowClient().get_run(result["run_id"]).data.tags["suspected_leaks"] == "settled"

    assert main([*args, "--feature-params", '{"drop_columns": ["settled"]}']) == 0
    result = json.loads(capsys.readouterr().out)["data"]
    assert result["suspected_leaks"] == []
    assert "suspected_leaks" not in MlflowClient().get_run(result["run_id"]).data.tags
