"""bricksml invoke: send rows to a serving endpoint (a local URL or a Databricks endpoint name)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        required=True,
        metavar="NAME_OR_URL",
        help="http://127.0.0.1:8080 (bricksml serve), or a Databricks serving endpoint's name",
    )
    parser.add_argument(
        "--input",
        required=True,
        metavar="FILE_OR_JSON",
        help="a .json/.csv/.tsv/.parquet/.jsonl file, or JSON: rows, or a body with dataframe_split, ...",
    )
    parser.add_argument(
        "--probabilities", action="store_true", help="ask for class probabilities (local server)"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the answer")
    parser.add_argument(
        "--wait", type=float, default=0.0, help="seconds a local server may take to be ready (one starting)"
    )


def run(args: argparse.Namespace) -> dict:
    from bricksml.serving import client

    body = client.request_body(args.input, args.probabilities)
    answer = client.invoke(args.endpoint, body, timeout=args.timeout, wait=args.wait)
    return {"endpoint": client.invocations_url(args.endpoint) or args.endpoint, **answer}


def render(data: dict) -> str:
    predictions = data.get("predictions") or []
    served = ""
    if data.get("served_model_name"):
        served = f" by {data['served_model_name']} v{data.get('served_model_version')}"
    lines = [f"{len(predictions)} predictions from {data['endpoint']}{served}:"]
    probabilities = data.get("probabilities") or []
    for number, prediction in enumerate(predictions, start=1):
        line = f"  {number:>4}  {prediction}"
        if number <= len(probabilities):
            ranked = sorted(probabilities[number - 1].items(), key=lambda kv: -kv[1])
            line += "  (" + ", ".join(f"{k} {v:.3f}" for k, v in ranked) + ")"
        lines.append(line)
    return "\n".join(lines)
