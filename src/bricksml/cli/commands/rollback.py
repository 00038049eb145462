"""bricksml rollback: move champion back (to the previous champion, or a version), then follow it."""

from __future__ import annotations

import argparse

from bricksml.errors import BricksmlError
from bricksml.params.train import model_name_check


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-name", required=True, help="registered model, catalog.schema.model")
    parser.add_argument(
        "--to-version",
        default=None,
        metavar="N",
        help="version to make champion (default: the previous champion)",
    )
    parser.add_argument("--reason", default="", help="why, recorded on both versions")
    parser.add_argument(
        "--endpoint",
        default=None,
        metavar="NAME",
        help="a Databricks serving endpoint to point at the new champion (the SDK's authentication)",
    )
    parser.add_argument("--timeout", type=float, default=40.0, help="minutes to wait for the endpoint")
    parser.add_argument("--poll", type=float, default=10.0, help="seconds between endpoint state checks")


def run(args: argparse.Namespace) -> dict:
    problem = model_name_check(args.model_name)
    if problem:
        raise BricksmlError(f"--model-name {args.model_name!r}: {problem}")
    from bricksml.tracking import rollback, setup

    setup.configure()
    moved = rollback.rollback(args.model_name, args.to_version, args.reason)
    out = {**moved.to_dict(), "endpoint": None}
    if args.endpoint and moved.moved:
        from bricksml.serving import endpoints
        from bricksml.workspace import jobs

        spec = endpoints.EndpointSpec(args.endpoint, args.model_name, moved.to_version)
        outcome = endpoints.ensure(
            jobs.connect(), spec, create=False, timeout=args.timeout * 60.0, poll=args.poll
        )
        out["endpoint"] = outcome.to_dict()
    return out


def render(data: dict) -> str:
    name, before, after = data["model_name"], data["from_version"], data["to_version"]
    if not data["moved"]:
        return f"{name}: v{after} is already champion; nothing moved"
    lines = [
        f"{name}: champion v{before} -> v{after} ({data['chosen']}); recorded on v{before} and v{after}"
        " (tag rollback_record)",
        "  a local `bricksml serve` following @champion swaps to it within its poll interval",
    ]
    endpoint = data.get("endpoint")
    if endpoint:
        lines.append(
            f"  endpoint {endpoint['endpoint']}: {endpoint['action']}, serves v{endpoint['served_version']}"
            f" (was {endpoint['previous_version']})"
        )
    else:
        lines.append("  on Databricks: pass --endpoint NAME, or run the train_models deploy task")
    return "\n".join(lines)
