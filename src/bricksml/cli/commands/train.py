"""bricksml train: both tasks of the train_models job (train, then the promotion gate)."""

from __future__ import annotations

import argparse

from bricksml.cli import summaries
from bricksml.cli.flags import add_contract_flags, contract_values
from bricksml.params import TrainParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_contract_flags(parser, TrainParams)
    summaries.add_fail_on_reject(parser)


def run(args: argparse.Namespace) -> dict:
    params = TrainParams.parse(contract_values(args, TrainParams))
    # MLflow, skops and scikit-learn: imported once the parameters are known to be good.
    from bricksml.jobs.train_models import train_models
    from bricksml.jobs.validate_model import validate_model
    from bricksml.progress import Progress

    progress = Progress()
    trained = train_models(params, progress=progress)
    gate = validate_model(params, trained.model_version, progress=progress)
    data = {**trained.to_dict(), "promoted": gate.promoted, "gate": gate.to_dict()}
    if args.fail_on_reject:
        summaries.raise_if_rejected([data["gate"]], data, render(data) if args.output == "text" else None)
    return data


def render(data: dict) -> str:
    """The version, its scores on each split, and the gate's decision."""
    gate = data.get("gate") or {}
    lines = summaries.train_lines(data, gate.get("metric"))
    if gate:
        lines += summaries.gate_lines(gate)
    return "\n".join(lines)
