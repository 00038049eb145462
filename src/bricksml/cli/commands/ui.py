"""bricksml ui: the MLflow UI on the local store (the same runs and models the jobs wrote).

MLflow 3's UI opens on GenAI pages for a new browser; the command prints the address of the
training experiment's runs table instead (see :mod:`bricksml.tracking.ui_links`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from bricksml import runtime
from bricksml.errors import BricksmlError
from bricksml.params.base import name_check
from bricksml.params.train import DEFAULT_EXPERIMENT
from bricksml.tracking import ui_links

#: The tag train_models puts on its runs (with ``data_name``): it tells training runs from the
#: inference runs, whatever the experiments are called.
TRAINING_RUNS = "tags.`bricksml.job` = 'train_models'"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port (default: 5000)")
    parser.add_argument(
        "--experiment",
        default=None,
        metavar="NAME",
        help="experiment whose runs to open; {data_name} in it stands for --data-name, or else for "
        "the data set trained last (default: the experiment of the newest training run, whatever "
        f"its name: {DEFAULT_EXPERIMENT} for `bricksml train`, the target's folder for `bricksml run`)",
    )
    parser.add_argument(
        "--data-name",
        default=None,
        metavar="NAME",
        help="open the training experiment of this data set (its newest training run's)",
    )
    parser.add_argument(
        "--print-command", action="store_true", help="print the mlflow command and the URL instead of running"
    )


def command(host: str, port: int) -> list[str]:
    """The `mlflow ui` command line for this machine's local store."""
    uri = local_tracking_uri()
    mlflow_exe = shutil.which("mlflow", path=os.path.dirname(sys.executable)) or "mlflow"
    return [
        mlflow_exe,
        "ui",
        "--backend-store-uri",
        uri,
        "--default-artifact-root",
        runtime.artifact_root(),
        "--host",
        host,
        "--port",
        str(port),
    ]


def local_tracking_uri() -> str:
    uri = runtime.tracking_uri()
    if not uri.startswith("sqlite:"):
        raise BricksmlError(f"MLFLOW_TRACKING_URI is {uri}: open that server's UI instead of a local one")
    return uri


def experiment_name(experiment: str, data_name: str | None) -> str:
    """The experiment asked for, with ``{data_name}`` filled in when a data set is named."""
    if data_name is None:
        return experiment
    if ui_links.DATA_NAME not in experiment:
        raise BricksmlError(
            f"--data-name {data_name!r}: experiment {experiment!r} has no {{data_name}} to fill; "
            "give either the experiment's full name or the data set"
        )
    return experiment.replace(ui_links.DATA_NAME, data_name)


def landing(host: str, port: int, experiment: str | None, data_name: str | None) -> dict:
    """Where the UI should open: the experiment's runs table, else the experiment list."""
    if data_name is not None and (problem := name_check(data_name)):
        raise BricksmlError(f"--data-name {data_name!r}: must be {problem}")
    if experiment is not None:
        wanted = experiment_name(experiment, data_name)
    else:
        wanted = f"training runs of {data_name}" if data_name else "training runs"
    base = ui_links.base_url(host, port)
    uri = local_tracking_uri()
    found = None
    # No database, no experiment. Opening one would create it: ~10 s of MLflow's migrations that
    # `mlflow ui` is about to run anyway, after a second or two of importing MLflow.
    if Path(uri.removeprefix("sqlite:///")).is_file():
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        if experiment is not None:
            found = ui_links.find_experiment(client, wanted, runs=TRAINING_RUNS)
        else:
            # data_name passed name_check: no quote can end the filter's string.
            of_data = f" AND tags.data_name = '{data_name}'" if data_name else ""
            found = ui_links.experiment_of_newest_run(client, TRAINING_RUNS + of_data)
    if found is None:
        return {
            "url": ui_links.experiments_url(base),
            "experiment": None,
            "experiment_id": None,
            "wanted": wanted,
        }
    return {
        "url": ui_links.experiment_runs_url(base, found.experiment_id),
        "experiment": found.name,
        "experiment_id": found.experiment_id,
        "wanted": wanted,
    }


def run(args: argparse.Namespace) -> dict:
    argv = command(args.host, args.port)
    target = landing(args.host, args.port, args.experiment, args.data_name)
    if args.print_command:
        return {"command": argv, **target}
    print(_announce(target), flush=True)
    print("(Ctrl+C to stop)", file=sys.stderr, flush=True)
    os.execv(argv[0], argv)  # the UI replaces this process; Ctrl+C stops it
    raise AssertionError("unreachable")


def _announce(target: dict) -> str:
    if target["experiment_id"] is None:
        wanted = target["wanted"]
        missing = wanted if wanted.startswith("training runs") else f"experiment {wanted}"
        return (
            f"MLflow UI: {target['url']}\n"
            f"  (no {missing} yet: train a model first, e.g. `bricksml run train_models`)"
        )
    return f"MLflow UI, runs of {target['experiment']}: {target['url']}"


def render(data: dict) -> str:
    return "\n".join([" ".join(data["command"]), _announce(data)])
