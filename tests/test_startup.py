"""Help and refused input come back without loading the libraries that take seconds to import.

Behaviour, not timing (``benchmarks/startup.py`` times it): each case runs the CLI in a fresh
interpreter, as the console script does, and reports which modules the process ended up holding.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bricksml.cli.commands import COMMANDS
from bricksml.cli.main import main

#: What makes a command slow to start: MLflow and its SQLAlchemy store, scikit-learn and SciPy,
#: skops, the Databricks SDK.
HEAVY = ("mlflow", "sklearn", "skops", "databricks.sdk")

PROBE = """
import json, sys
from bricksml.cli.main import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as report:
    json.dump({"code": code, "modules": sorted(sys.modules)}, report)
"""

REFUSED = [
    pytest.param(
        ["train", "--data-name", "x", "--data-version", "v1", "--gate-mode", "on"],
        "error: bricksml train: argument --gate-mode: invalid choice: 'on' "
        "(choose from 'disabled', 'dry_run', 'enabled')",
        id="train-bad-choice",
    ),
    pytest.param(
        ["train", "--data-name", "x", "--data-version", "v1", "--seed=-1"],
        "error: The 'seed' parameter of train_models must be a whole number from 0 to 4294967295. "
        "Got '-1' instead.",
        id="train-bad-value",
    ),
    pytest.param(
        ["create-data", "--data-name", "x"],
        "error: The 'data_version' parameter of create_data must be given (it has no default). "
        "Got '' instead.",
        id="create-data-missing",
    ),
]


def _cli(tmp_path: Path, *argv: str) -> tuple[int, list[str], str]:
    """Exit code, loaded modules and stderr of ``bricksml *argv`` in a new process."""
    report = tmp_path / "report.json"
    env = {"BRICKSML_LOCAL_ROOT": str(tmp_path / "root"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(report), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.is_file(), f"the probe did not finish: {done.stderr}"
    data = json.loads(report.read_text())
    return data["code"], data["modules"], done.stderr


def _heavy(modules: list[str]) -> list[str]:
    return sorted({m for m in modules for h in HEAVY if m == h or m.startswith(h + ".")})


def _command_modules(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if m.startswith("bricksml.cli.commands."))


def test_top_level_help_imports_no_command_module(tmp_path: Path) -> None:
    code, modules, _ = _cli(tmp_path, "--help")
    assert code == 0
    assert _command_modules(modules) == [], "bricksml --help imported command modules"
    assert _heavy(modules) == []


@pytest.mark.parametrize("command", [c.NAME for c in COMMANDS])
def test_a_command_s_help_imports_that_command_only_and_no_heavy_library(
    tmp_path: Path, command: str
) -> None:
    code, modules, _ = _cli(tmp_path, command, "--help")
    assert code == 0
    own = next(c.module for c in COMMANDS if c.NAME == command)
    # trigger reuses run's NAME=VALUE parsing; nothing else may come along.
    allowed = {own, "bricksml.cli.commands.run"} if command == "trigger" else {own}
    assert set(_command_modules(modules)) <= allowed and own in modules
    assert _heavy(modules) == [], f"bricksml {command} --help imported {_heavy(modules)}"


@pytest.mark.parametrize(("argv", "message"), REFUSED)
def test_refused_input_is_one_line_without_heavy_libraries(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    code, modules, err = _cli(tmp_path, *argv)
    assert code == 2
    assert err.strip().splitlines() == [message]
    assert _heavy(modules) == [], f"bricksml {' '.join(argv)} imported {_heavy(modules)}"


def test_train_contract_loads_without_scikit_learn(tmp_path: Path) -> None:
    """The contracts (and their model type choices) are what the parser needs; they stay light."""
    code = (
        "import sys; from bricksml.params import TrainParams, CreateDataParams, InferenceParams;"
        "TrainParams.parse({'data_name': 'x', 'data_version': 'v1'});"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy', 'pandas')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("model_type", ["naive_bayes", "logistic_regression", "linear_svm"])
def test_given_model_params_are_still_checked(model_type: str) -> None:
    from bricksml.errors import ParameterError
    from bricksml.params import TrainParams

    raw = {"data_name": "x", "data_version": "v1", "model_type": model_type, "model_params": '{"nope": 1}'}
    with pytest.raises(ParameterError, match=r"'model_params' parameter of train_models .* 'nope'"):
        TrainParams.parse(raw)


def test_the_defaults_the_contract_skips_checking_are_valid_for_every_type_and_seed() -> None:
    """The train contract checks model and feature parameters only when some are given."""
    from bricksml.models.pipeline import check_feature_params, check_model_params
    from bricksml.models.types import MODEL_TYPES

    check_feature_params({})
    for model_type in MODEL_TYPES:
        for seed in (0, 42, 2**32 - 1):
            check_model_params(model_type, {}, seed)


def test_every_command_module_has_the_command_interface_and_the_help_lists_it(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        module = command.load()
        assert all(callable(getattr(module, f, None)) for f in ("add_arguments", "run", "render")), command
        assert command.NAME in out
