"""bricksml infer: the inference job straight from the library, for scripts and CI."""

from __future__ import annotations

import argparse

from bricksml.cli.flags import add_contract_flags, contract_values
from bricksml.jobs.inference import run_inference
from bricksml.params import InferenceParams
from bricksml.progress import Progress

NAME = "infer"
HELP = "Score data in chunks with a model (by run id, model URI or alias) and save the predictions."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_contract_flags(parser, InferenceParams)


def run(args: argparse.Namespace) -> dict:
    params = InferenceParams.parse(contract_values(args, InferenceParams))
    return run_inference(params, progress=Progress()).to_dict()


def render(data: dict) -> str:
    lines = [
        f"scored {data['rows']} rows of {data['input']} with {data['model_uri']}",
        f"  predictions: {data['output_path']}/predictions.parquet",
        "  predicted: " + ", ".join(f"{k} {v}" for k, v in data["prediction_counts"].items()),
    ]
    if data["null_text"]:
        lines.append(f"  {data['null_text']} rows had no text and were scored as empty text")
    if data["metrics"]:
        m = data["metrics"]
        lines.append(f"  labels present: macro-F1 {m['f1_macro']:.4f}, accuracy {m['accuracy']:.4f}")
    return "\n".join(lines)
