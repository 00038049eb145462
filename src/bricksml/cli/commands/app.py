"""bricksml app: the Streamlit app on the local mirror, the same script Databricks Apps run.

The flags become the app's settings (:mod:`bricksml.app.settings`, passed as environment
variables); Streamlit replaces this process, so Ctrl+C stops the app.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import bricksml.app
from bricksml.app.settings import AppSettings
from bricksml.errors import BricksmlError
from bricksml.params.train import model_name_check

#: The Streamlit script, as the bundle's app resource runs it too.
SCRIPT = Path(bricksml.app.__file__).parent / "main.py"
DEFAULT_PORT = 8501


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = AppSettings()
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    parser.add_argument(
        "--model-name",
        default="",
        metavar="CATALOG.SCHEMA.MODEL",
        help="the registered model to show (default: pick among the registered models in the app)",
    )
    parser.add_argument(
        "--model-alias",
        default=defaults.model_alias,
        metavar="ALIAS",
        help=f"the version to predict with (default: {defaults.model_alias})",
    )
    parser.add_argument(
        "--serving-url",
        default="",
        metavar="URL",
        help="base URL of a serving endpoint (e.g. `bricksml serve`'s http://127.0.0.1:8080): predictions"
        " come from it instead of a model loaded by the app; needs --serving-endpoint",
    )
    parser.add_argument("--serving-endpoint", default="", metavar="NAME", help="the endpoint's name")
    parser.add_argument(
        "--data-root",
        default=defaults.data_root,
        metavar="PATH",
        help=f"where the data versions are, for the form's hints (default: {defaults.data_root})",
    )
    parser.add_argument(
        "--output-root",
        default="",
        metavar="PATH",
        help="where the inference and monitoring outputs are (default: the inference job's, by data-root)",
    )
    parser.add_argument(
        "--print-command",
        action="store_true",
        help="print the streamlit command and settings instead of running",
    )


def settings(args: argparse.Namespace) -> AppSettings:
    """The app's settings from the flags; a flag that cannot work is refused here, not in the app."""
    if problem := model_name_check(args.model_name):
        raise BricksmlError(f"--model-name {args.model_name!r}: must be {problem}")
    if not args.model_alias:
        raise BricksmlError("--model-alias is empty: give an alias such as champion")
    if args.serving_url and not args.serving_endpoint:
        raise BricksmlError("--serving-url needs --serving-endpoint: the endpoint's name")
    if args.serving_url and not args.serving_url.startswith(("http://", "https://")):
        raise BricksmlError(f"--serving-url {args.serving_url!r}: must be an http:// or https:// URL")
    if args.serving_endpoint and not args.serving_url:
        raise BricksmlError(
            "--serving-endpoint needs --serving-url locally (a Databricks App finds its endpoint itself)"
        )
    if not 0 < args.port < 65536:
        raise BricksmlError(f"--port {args.port}: must be from 1 to 65535")
    return AppSettings(
        model_name=args.model_name,
        model_alias=args.model_alias,
        serving_url=args.serving_url.rstrip("/"),
        serving_endpoint=args.serving_endpoint,
        data_root=args.data_root,
        output_root=args.output_root,
    )


def command(host: str, port: int) -> list[str]:
    """The streamlit command line: headless (no browser opened), no usage statistics, no developer menu."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(SCRIPT),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
    ]


def run(args: argparse.Namespace) -> dict:
    chosen = settings(args)
    argv = command(args.host, args.port)
    data = {"command": argv, "env": chosen.to_env(), "url": f"http://{args.host}:{args.port}"}
    if args.print_command:
        return data
    print(_announce(data, chosen), flush=True)
    print("(Ctrl+C to stop)", file=sys.stderr, flush=True)
    os.execve(argv[0], argv, {**os.environ, **chosen.to_env()})
    raise AssertionError("unreachable")


def _announce(data: dict, chosen: AppSettings) -> str:
    model = f"{chosen.model_name}@{chosen.model_alias}" if chosen.model_name else f"@{chosen.model_alias}"
    source = (
        f"endpoint {chosen.serving_endpoint} at {chosen.serving_url}"
        if chosen.uses_endpoint
        else "the model loaded by the app"
    )
    return f"bricksml app: {data['url']} (model {model}; predictions from {source})"


def render(data: dict) -> str:
    env = " ".join(f"{k}={v}" for k, v in data["env"].items())
    return f"{env} {' '.join(data['command'])}\n{data['url']}"
