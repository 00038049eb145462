"""bricksml train: both tasks of the train_models job (train, then the promotion gate)."""

from __future__ import annotations

import argparse

from bricksml.cli.flags import add_contract_flags, contract_values
from bricksml.jobs.train_models import train_models
from bricksml.jobs.validate_model import validate_model
from bricksml.params import TrainParams
from bricksml.progress import Progress

NAME = "train"
HELP = "Train a model on a data version, log it to MLflow, register it and run the promotion gate."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_contract_flags(parser, TrainParams)


def run(args: argparse.Namespace) -> dict:
    params = TrainParams.parse(contract_values(args, TrainParams))
    progress = Progress()
    trained = train_models(params, progress=progress)
    gate = validate_model(params, trained.model_version, progress=progress)
    return {**trained.to_dict(), "promoted": gate.promoted, "gate": gate.to_dict()}


def render(data: dict) -> str:
    metrics = data["metrics"]
    gate = data["gate"]
    lines = [
        f"trained {data['model_type']} on {data['data']}: MLflow run {data['run_id']}",
        f"registered {data['model_name']} version {data['model_version']} ({data['model_uri']})",
    ]
    for split in ("train", "test", "holdout"):
        if f"{split}_f1_macro" in metrics:
            lines.append(
                f"  {split:8s} macro-F1 {metrics[f'{split}_f1_macro']:.4f}  "
                f"accuracy {metrics[f'{split}_accuracy']:.4f}"
            )
    lines.append(f"gate ({gate['mode']}): {gate['decision']} - {gate['reason']}")
    aliases = ", ".join(f"@{a} -> v{v}" for a, v in sorted(gate["aliases"].items())) or "none"
    lines.append(f"aliases: {aliases}")
    return "\n".join(lines)
