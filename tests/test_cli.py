"""The CLI in-process: sample-data, create-data, the JSON envelope and one-line user errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from bricksml.cli.flags import flag_name
from bricksml.cli.main import build_parser, main
from bricksml.params import CreateDataParams, TrainParams

ENVELOPE_KEYS = {"command", "status", "exit_code", "data", "errors"}


@pytest.fixture(autouse=True)
def local_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRICKSML_LOCAL_ROOT", str(tmp_path))
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error:"), err
    assert "Traceback" not in err
    return lines[0]


# -- sample-data ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["csv", "parquet", "jsonl", "tsv"])
def test_sample_data_writes_each_format(tmp_path: Path, capsys, suffix: str) -> None:
    out = tmp_path / "out" / f"s.{suffix}"
    code, stdout, err = _run(capsys, "sample-data", "--rows", "50", "--seed", "1", "--out", str(out))
    assert code == 0, err
    assert out.is_file()
    assert "50" in stdout
    reader = {
        "csv": pd.read_csv,
        "tsv": lambda p: pd.read_csv(p, sep="\t"),
        "parquet": pd.read_parquet,
        "jsonl": lambda p: pd.read_json(p, lines=True),
    }[suffix]
    assert len(reader(out)) == 50
    assert not list(out.parent.glob(".*.tmp"))


def test_sample_data_is_deterministic_by_seed(tmp_path: Path, capsys) -> None:
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    for path, seed in ((a, "3"), (b, "3"), (c, "4")):
        assert _run(capsys, "sample-data", "--rows", "200", "--seed", seed, "--out", str(path))[0] == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_sample_data_customers_kind(tmp_path: Path, capsys) -> None:
    out = tmp_path / "c.parquet"
    code, stdout, err = _run(
        capsys, "sample-data", "--kind", "customers", "--rows", "30", "--out", str(out), "--output", "json"
    )
    assert code == 0, err
    env = json.loads(stdout)
    assert env["data"]["kind"] == "customers"
    assert env["data"]["rows"] == 30


def test_sample_data_maps_workspace_paths_under_local_root(local_root: Path, capsys) -> None:
    code, _, err = _run(capsys, "sample-data", "--rows", "10", "--out", "/Volumes/main/b/data/x/raw/s.csv")
    assert code == 0, err
    assert (local_root / "Volumes/main/b/data/x/raw/s.csv").is_file()


@pytest.mark.parametrize("rows", ["0", "-5"])
def test_sample_data_rows_below_one_fails_with_one_line(tmp_path: Path, capsys, rows: str) -> None:
    code, out, err = _run(capsys, "sample-data", "--rows", rows, "--out", str(tmp_path / "s.csv"))
    assert code != 0
    assert "--rows" in _one_error_line(err)
    assert out == ""
    assert not (tmp_path / "s.csv").exists()


def test_sample_data_bad_suffix_fails_with_one_line(tmp_path: Path, capsys) -> None:
    code, _, err = _run(capsys, "sample-data", "--rows", "5", "--out", str(tmp_path / "s.xlsx"))
    assert code != 0
    assert "--out" in _one_error_line(err)


# -- create-data ------------------------------------------------------------------------------


@pytest.fixture
def raw_csv(tmp_path: Path, capsys) -> Path:
    path = tmp_path / "incoming" / "sentiment.csv"
    assert _run(capsys, "sample-data", "--rows", "1500", "--seed", "0", "--out", str(path))[0] == 0
    return path


def _create(capsys, raw: Path, *extra: str) -> tuple[int, str, str]:
    return _run(
        capsys,
        "create-data",
        "--data-name",
        "fin",
        "--data-version",
        "v1",
        "--label-col",
        "Sentiment",
        "--text-col",
        "Sentence",
        "--raw-path",
        str(raw),
        *extra,
    )


def test_create_data_json_envelope(local_root: Path, raw_csv: Path, capsys) -> None:
    code, out, err = _create(capsys, raw_csv, "--test-size", "0.25", "--no-holdout", "--output", "json")
    assert code == 0, err
    env = json.loads(out)
    assert set(env) == ENVELOPE_KEYS
    assert env["command"] == "create-data"
    assert env["status"] == "ok"
    assert env["exit_code"] == 0
    assert env["errors"] == []
    data = env["data"]
    assert data["data_version"] == "v1"
    assert data["data_name"] == "fin"
    assert data["status"] == "created"
    assert set(data["splits"]) == {"train", "test"}
    assert sum(data["splits"].values()) > 0
    assert data["splits"]["test"] / sum(data["splits"].values()) == pytest.approx(0.25, abs=0.03)
    assert data["quality"]["rows_in"] == 1500
    path = Path(data["path"])
    assert path == local_root / "Volumes/main/bricksml/data/fin/v1"
    assert (path / "manifest.json").is_file()


def test_create_data_with_holdout_text_output(raw_csv: Path, capsys) -> None:
    code, out, err = _create(capsys, raw_csv, "--holdout", "--holdout-size", "0.15", "--data-version", "v2")
    assert code == 0, err
    assert "fin/v2 created" in out
    for split in ("train", "test", "holdout"):
        assert f"{split}:" in out


def test_create_data_twice_is_a_noop(raw_csv: Path, capsys) -> None:
    assert _create(capsys, raw_csv, "--output", "json")[0] == 0
    code, out, err = _create(capsys, raw_csv, "--output", "json")
    assert code == 0, err
    assert json.loads(out)["data"]["status"] == "unchanged"


def test_create_data_reads_default_raw_folder(local_root: Path, capsys) -> None:
    raw = local_root / "Volumes/main/bricksml/data/fin/raw/s.csv"
    assert _run(capsys, "sample-data", "--rows", "800", "--out", str(raw))[0] == 0
    code, out, err = _run(
        capsys,
        "create-data",
        "--data-name=fin",
        "--data-version=v1",
        "--label-col=Sentiment",
        "--text-col=Sentence",
        "--output=json",
    )
    assert code == 0, err
    assert json.loads(out)["data"]["quality"]["rows_in"] == 800


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--test-size", "2"], "test_size"),
        (["--test-size", "abc"], "test_size"),
        (["--test-size", "0.8", "--holdout-size", "0.3"], "test_size"),
        (["--duplicates", "sometimes"], "--duplicates"),
        (["--bogus-flag"], "--bogus-flag"),
        (["--seed", "1.5"], "seed"),
        (["--data-name", "../escape"], "data_name"),
        (["--label-col", "NoSuchColumn"], "NoSuchColumn"),
    ],
)
def test_create_data_user_mistakes_are_one_line(raw_csv: Path, capsys, args: list[str], needle: str) -> None:
    code, out, err = _create(capsys, raw_csv, *args)
    assert code != 0
    assert needle in _one_error_line(err)
    assert out == ""


def test_create_data_missing_required_parameter(raw_csv: Path, capsys) -> None:
    code, out, err = _run(
        capsys, "create-data", "--data-version", "v1", "--label-col", "Sentiment", "--raw-path", str(raw_csv)
    )
    assert code != 0
    assert "data_name" in _one_error_line(err)
    assert out == ""


def test_create_data_error_json_envelope(raw_csv: Path, capsys) -> None:
    code, out, err = _create(capsys, raw_csv, "--test-size", "2", "--output", "json")
    assert code != 0
    line = _one_error_line(err)
    env = json.loads(out)
    assert set(env) == ENVELOPE_KEYS
    assert env["status"] == "error"
    assert env["exit_code"] == code
    assert env["data"] is None
    assert env["command"] == "create-data"
    assert env["errors"] == [line.removeprefix("error: ")]
    assert "test_size" in env["errors"][0]


def test_argparse_error_json_envelope(capsys) -> None:
    code, out, err = _run(capsys, "create-data", "--output", "json", "--nope")
    assert code != 0
    _one_error_line(err)
    env = json.loads(out)
    assert env["status"] == "error"
    assert "--nope" in env["errors"][0]


def test_unknown_command_is_one_line(capsys) -> None:
    code, out, err = _run(capsys, "frobnicate")
    assert code != 0
    assert "frobnicate" in _one_error_line(err)
    assert out == ""


def test_no_command_is_one_line(capsys) -> None:
    code, _, err = _run(capsys)
    assert code != 0
    _one_error_line(err)


def test_help_exits_zero(capsys) -> None:
    assert main(["create-data", "--help"]) == 0
    assert "--data-name" in capsys.readouterr().out


# -- flags derived from the contract ----------------------------------------------------------


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


@pytest.mark.parametrize(("command", "contract"), [("create-data", CreateDataParams), ("train", TrainParams)])
def test_every_contract_parameter_has_a_flag(command: str, contract: type) -> None:
    sub = _subparser(command)
    by_option = {opt: a for a in sub._actions for opt in a.option_strings}
    for f in contract.fields():
        flag = flag_name(f.name)
        assert flag == "--" + f.name.replace("_", "-")
        assert flag in by_option, f"no flag for {f.name}"
        action = by_option[flag]
        assert action.dest == f.name
        assert action.default is None
        if f.metadata["kind"] == "bool":
            assert isinstance(action, argparse.BooleanOptionalAction)
            assert "--no-" + f.name.replace("_", "-") in by_option
        if f.metadata["choices"]:
            assert tuple(action.choices) == tuple(f.metadata["choices"])
    command_flags = {"help", "output", "fail_on_reject"}  # the command's own, not the contract's
    flags = {a.dest for a in sub._actions if a.option_strings} - command_flags
    assert flags == set(contract.names())


def test_ui_command_points_at_the_local_store(
    local_root: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["ui", "--print-command", "--port", "5123", "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)["data"]
    argv = data["command"]
    assert argv[1] == "ui"
    assert argv[argv.index("--backend-store-uri") + 1] == f"sqlite:///{local_root / 'mlflow' / 'mlflow.db'}"
    assert argv[argv.index("--default-artifact-root") + 1] == (local_root / "mlflow" / "artifacts").as_uri()
    assert argv[argv.index("--port") + 1] == "5123"
    assert Path(argv[0]).name == "mlflow"
    # A fresh machine has no experiment yet: the experiment list, in the classic ML view, and no
    # store created just to find that out (mlflow ui creates it).
    assert data["url"] == "http://127.0.0.1:5123/#/experiments?workflowType=machine_learning"
    assert data["experiment_id"] is None
    assert not (local_root / "mlflow" / "mlflow.db").exists()


def test_ui_refuses_a_remote_tracking_server(
    local_root: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert main(["ui", "--print-command"]) == 2
    assert "open that server's UI" in capsys.readouterr().err


def test_every_command_has_output_flag() -> None:
    for name in ("sample-data", "create-data", "train", "run", "ui"):
        sub = _subparser(name)
        output = next(a for a in sub._actions if "--output" in a.option_strings)
        assert tuple(output.choices) == ("text", "json")


def test_an_abbreviated_flag_is_refused_not_guessed(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "create-data", "--data-name", "x", "--data-version", "v1", "--label", "y")
    assert code == 2 and err.strip() == "error: bricksml: unrecognized arguments: --label y"
