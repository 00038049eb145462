"""bricksml infer: the inference job straight from the library, for scripts and CI."""

from __future__ import annotations

import argparse

from bricksml.cli.flags import add_contract_flags, contract_values
from bricksml.params import InferenceParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_contract_flags(parser, InferenceParams)


def run(args: argparse.Namespace) -> dict:
    params = InferenceParams.parse(contract_values(args, InferenceParams))
    # MLflow, pandas and scikit-learn: imported once the parameters are known to be good.
    from bricksml.jobs.inference import run_inference
    from bricksml.progress import Progress

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
