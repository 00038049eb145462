"""bricksml ui: the MLflow UI on the local store (the same runs and models the jobs wrote)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from bricksml import runtime
from bricksml.errors import BricksmlError

NAME = "ui"
HELP = "Open the MLflow UI on the local tracking store and model registry."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port (default: 5000)")
    parser.add_argument(
        "--print-command", action="store_true", help="print the mlflow command instead of running it"
    )


def command(host: str, port: int) -> list[str]:
    """The `mlflow ui` command line for this machine's local store."""
    uri = runtime.tracking_uri()
    if not uri.startswith("sqlite:"):
        raise BricksmlError(f"MLFLOW_TRACKING_URI is {uri}: open that server's UI instead of a local one")
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


def run(args: argparse.Namespace) -> dict:
    argv = command(args.host, args.port)
    if args.print_command:
        return {"command": argv, "url": f"http://{args.host}:{args.port}"}
    print(f"MLflow UI on http://{args.host}:{args.port} (Ctrl+C to stop)", file=sys.stderr, flush=True)
    os.execv(argv[0], argv)  # the UI replaces this process; Ctrl+C stops it
    raise AssertionError("unreachable")


def render(data: dict) -> str:
    return " ".join(data["command"])
