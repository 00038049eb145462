"""Every command's name and help, and the module that does its work: one entry each.

The parser lists every command from this table and imports a command's module only to add its
flags or to run it: ``bricksml --help`` imports none. A module has ``add_arguments(parser)``,
``run(args) -> data`` and ``render(data) -> str``; it keeps its top-level imports light and imports
its job (pandas, MLflow, scikit-learn, the Databricks SDK: seconds) inside ``run``, so that its
help and a refused flag come back at once too (``tests/test_startup.py``).
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Command:
    """One command: its name and help without importing anything, its module on first use."""

    NAME: str
    HELP: str
    module: str

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        self.load().add_arguments(parser)

    def run(self, args: argparse.Namespace) -> Any:
        return self.load().run(args)

    def render(self, data: Any) -> str:
        return self.load().render(data)


COMMANDS = [
    Command(
        "sample-data",
        "Write a synthetic data set (financial sentiment text or tabular customers).",
        "bricksml.cli.commands.sample_data",
    ),
    Command(
        "create-data",
        "Turn raw files into an immutable, versioned set of train/test/holdout splits.",
        "bricksml.cli.commands.create_data",
    ),
    Command(
        "train",
        "Train a model on a data version, log it to MLflow, register it and run the promotion gate.",
        "bricksml.cli.commands.train",
    ),
    Command(
        "infer",
        "Score data in chunks with a model (by run id, model URI or alias) and save the predictions.",
        "bricksml.cli.commands.infer",
    ),
    Command(
        "run",
        "Run a bundle job locally: its notebooks through a real Jupyter kernel.",
        "bricksml.cli.commands.run",
    ),
    Command(
        "trigger",
        "Trigger a deployed bundle job on Databricks (parameters from jobs/*.json), optionally wait.",
        "bricksml.cli.commands.trigger",
    ),
    Command(
        "ui",
        "Open the MLflow UI on the local tracking store and model registry.",
        "bricksml.cli.commands.ui",
    ),
    Command(
        "serve",
        "Serve a registered model locally with the Databricks Model Serving contract, following its alias.",
        "bricksml.cli.commands.serve",
    ),
    Command(
        "invoke",
        "Send rows to a serving endpoint (a local URL or a Databricks endpoint) and print the predictions.",
        "bricksml.cli.commands.invoke",
    ),
    Command(
        "rollback",
        "Move a model's champion back (to the previous champion or a version) and point its endpoint at it.",
        "bricksml.cli.commands.rollback",
    ),
    Command(
        "app",
        "Start the Streamlit app (predict, score a file, models, monitoring) on the local mirror.",
        "bricksml.cli.commands.app",
    ),
    Command(
        "monitor",
        "Judge a window of predictions for drift and performance; report, alert, retrain or roll back.",
        "bricksml.cli.commands.monitor",
    ),
]
BY_NAME = {command.NAME: command for command in COMMANDS}
