"""bricksml trigger: run a deployed bundle job on Databricks, wait for it, report its results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bricksml.bundle import config
from bricksml.cli.commands.run import pairs, read_params_file
from bricksml.errors import BricksmlError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", help="job key in resources/ (e.g. train_models, pipeline)")
    parser.add_argument("--target", "-t", default=None, help="bundle target the job was deployed to")
    parser.add_argument("--params-file", default=None, help="JSON object of job parameters")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a job parameter")
    parser.add_argument("--job-id", type=int, default=None, help="skip the lookup by name")
    parser.add_argument("--wait", action="store_true", help="wait for the run to end; fail when it fails")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait before cancelling")
    parser.add_argument("--poll", type=float, default=10.0, help="seconds between state checks")
    parser.add_argument(
        "--summary", default=None, help="append a Markdown summary here ($GITHUB_STEP_SUMMARY)"
    )
    parser.add_argument("--bundle-root", default=None, help="folder with databricks.yml")


def job_parameters(bundle: config.Bundle, job: str, given: dict[str, str]) -> dict[str, str]:
    """The parameters the user gave, checked against the job's declared ones."""
    declared = [p["name"] for p in bundle.job(job).get("parameters") or []]
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise BricksmlError(
            f"--param {unknown[0]}: job {job!r} has no such parameter; its parameters: {', '.join(declared)}"
        )
    return given


def run(args: argparse.Namespace) -> dict:
    bundle = config.load(Path(args.bundle_root) if args.bundle_root else None, args.target)
    given = read_params_file(args.params_file) if args.params_file else {}
    given.update(pairs(args.param, "--param"))
    parameters = job_parameters(bundle, args.job, given)
    from bricksml.workspace import jobs  # the Databricks SDK: ~1 s to import

    client = jobs.connect()
    job_id = args.job_id
    if job_id is None:
        target_cfg = (bundle.raw.get("targets") or {}).get(bundle.target) or {}
        development = target_cfg.get("mode") == "development"
        name = jobs.deployed_name(bundle.job(args.job)["name"], development, client)
        job_id = jobs.find_job(client, name, bundle.target)
    triggered = jobs.trigger(client, args.job, job_id, parameters)
    print(f"run {triggered.run_id} of {args.job} started: {triggered.run_page_url}", file=sys.stderr)
    if args.wait:
        try:
            jobs.wait(
                client,
                triggered,
                timeout=args.timeout,
                poll=args.poll,
                report=lambda line: print(line, file=sys.stderr, flush=True),
            )
        finally:
            if args.summary and triggered.state:
                with open(args.summary, "a") as handle:
                    handle.write(jobs.summary_markdown(triggered))
    return {"target": bundle.target, **triggered.to_dict()}


def render(data: dict) -> str:
    from bricksml.workspace import jobs

    lines = [f"{data['job']} run {data['run_id']}: {data['run_page_url']}"]
    if data["state"]:
        lines[0] += f" ({data['state']['result_state']})"
    for task in data["tasks"]:
        lines.append(f"  {task['task_key']}: {task['state']} {jobs.describe(task.get('result'))}".rstrip())
    return "\n".join(lines)
