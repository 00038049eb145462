"""bricksml monitor: the monitor job straight from the library (drift, performance, actions)."""

from __future__ import annotations

import argparse

from bricksml.cli.flags import add_contract_flags, contract_values
from bricksml.params.monitor import MonitorParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_contract_flags(parser, MonitorParams)


def run(args: argparse.Namespace) -> dict:
    params = MonitorParams.parse(contract_values(args, MonitorParams))
    # MLflow, pandas, SciPy and scikit-learn: imported once the parameters are known to be good.
    from bricksml.jobs.monitor import run_monitor
    from bricksml.progress import Progress

    return run_monitor(params, progress=Progress()).to_dict()


def render(data: dict) -> str:
    summary = data["summary"]
    window = summary["window"]
    model = summary["model"]
    lines = [
        f"{data['decision']}: {model['model_uri']}, window {window['since']} to {window['until']}"
        f" ({window['rows']} rows)",
        *(f"  {reason}" for reason in data["reasons"]),
        f"  report: {data['output_path']}/report.html (MLflow run {data['mlflow_run_id']})",
    ]
    if summary["drifted_features"]:
        lines.append("  drifted features: " + ", ".join(summary["drifted_features"]))
    return "\n".join(lines)
