"""bricksml serve: the Databricks Model Serving REST contract on this machine, following an alias."""

from __future__ import annotations

import argparse

from bricksml.errors import BricksmlError
from bricksml.params.deploy import DEFAULT_ENDPOINT, endpoint_name, endpoint_problem
from bricksml.params.train import model_name_check, schema_check
from bricksml.tracking import model_refs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    model = parser.add_argument_group("the model (a name and an alias, or a URI)")
    model.add_argument("--model-name", default=None, help="registered model, catalog.schema.model")
    model.add_argument("--alias", default=None, help="alias to serve and follow (default: champion)")
    model.add_argument("--model-uri", default=None, help=f"a model to serve instead: {model_refs.FORMS}")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (default: 8080)")
    parser.add_argument(
        "--endpoint-name",
        default=None,
        help=f"name in /serving-endpoints/<name>/invocations (default: {DEFAULT_ENDPOINT})",
    )
    parser.add_argument(
        "--request-log-schema",
        default=None,
        metavar="CATALOG.SCHEMA",
        help="where the request log <endpoint>_payload goes (default: the model's catalog.schema)",
    )
    parser.add_argument("--no-request-log", action="store_true", help="do not log requests")
    parser.add_argument(
        "--poll-seconds", type=float, default=1.0, help="how often the alias is checked (default: 1)"
    )
    parser.add_argument(
        "--max-rows", type=int, default=10_000, help="rows one request may hold (default: 10000)"
    )
    parser.add_argument(
        "--max-request-mb",
        type=float,
        default=16.0,
        help="largest request body in MiB (default: 16, as Databricks)",
    )
    parser.add_argument(
        "--log-flush-seconds",
        type=float,
        default=1.0,
        help="how often logged requests are written (default: 1)",
    )


def reference(args: argparse.Namespace) -> model_refs.ModelRef:
    """The model the flags name: ``--model-uri``, else ``--model-name`` at ``--alias``."""
    if args.model_uri:
        if args.model_name:
            raise BricksmlError("--model-uri and --model-name: give one of them")
        try:
            return model_refs.parse(args.model_uri)
        except ValueError as exc:
            raise BricksmlError(f"--model-uri {args.model_uri!r}: {exc}") from None
    if not args.model_name:
        raise BricksmlError(
            "--model-name: which registered model to serve (catalog.schema.model), or --model-uri"
        )
    problem = model_name_check(args.model_name)
    if problem:
        raise BricksmlError(f"--model-name {args.model_name!r}: {problem}")
    from bricksml.tracking.registry import CHAMPION  # MLflow: only once the command runs

    alias = args.alias or CHAMPION
    if not model_refs.ALIAS.fullmatch(alias):
        raise BricksmlError(f"--alias {alias!r}: letters, digits, '_' and '-'")
    return model_refs.AliasRef(args.model_name, alias)


def run(args: argparse.Namespace) -> dict:
    ref = reference(args)
    name = getattr(ref, "name", "") or ""
    endpoint = args.endpoint_name or endpoint_name(DEFAULT_ENDPOINT, name or "model")
    problem = endpoint_problem(endpoint)
    if problem:
        raise BricksmlError(f"--endpoint-name: {problem}")
    for flag, value, low in (
        ("--port", args.port, 0),
        ("--poll-seconds", args.poll_seconds, 0.01),
        ("--max-rows", args.max_rows, 1),
        ("--max-request-mb", args.max_request_mb, 0.001),
        ("--log-flush-seconds", args.log_flush_seconds, 0.01),
    ):
        if not value >= low or (flag == "--port" and value > 65535):
            raise BricksmlError(
                f"{flag} {value}: must be at least {low}" + (" and at most 65535" if flag == "--port" else "")
            )
    table = None
    if not args.no_request_log:
        schema = args.request_log_schema or (".".join(name.split(".")[:2]) if name.count(".") == 2 else "")
        if not schema or schema_check(schema):
            raise BricksmlError(
                f"--request-log-schema {schema!r}: catalog.schema of the request log (or --no-request-log)"
            )
        from bricksml.serving.request_log import table_name

        table = table_name(*schema.split("."), endpoint)
    # uvicorn, Starlette, MLflow, scikit-learn: imported once the flags are known to be good.
    from bricksml.serving.app import Limits
    from bricksml.serving.server import ServeOptions, serve

    options = ServeOptions(
        endpoint=endpoint,
        host=args.host,
        port=args.port,
        request_log=table,
        poll_seconds=args.poll_seconds,
        log_flush_seconds=args.log_flush_seconds,
        limits=Limits(max_rows=args.max_rows, max_request_bytes=int(args.max_request_mb * (1 << 20))),
    )
    return serve(ref, options)


def render(data: dict) -> str:
    lines = [
        f"served {data['model_name']} v{data['model_version']} at {data['url']} for {data['seconds']:.1f} s:"
        f" {data['requests']} requests ({data['answered']} answered, {data['refused']} refused,"
        f" {data['failed']} failed)"
    ]
    for swap in data["swaps"]:
        lines.append(f"  followed the alias: v{swap['from_version']} -> v{swap['to_version']}")
    if data["request_log"]:
        lines.append(
            f"  request log {data['request_log']}: {data['request_log_rows']} rows"
            f" in {data['request_log_folder']}"
        )
    return "\n".join(lines)
