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
    from bricksml.cli import summaries

    return "\n".join(summaries.inference_lines(data))
