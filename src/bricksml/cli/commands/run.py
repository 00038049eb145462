"""bricksml run: execute a bundle job locally, exactly as declared in resources/."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from bricksml.bundle import config
from bricksml.cli import summaries
from bricksml.errors import BricksmlError
from bricksml.progress import Progress

if TYPE_CHECKING:
    from bricksml.bundle.runner import JobRun


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", help="job key in resources/ (e.g. create_data)")
    parser.add_argument("--target", "-t", default=None, help="bundle target (default: the default target)")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a job parameter (repeatable)",
    )
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a bundle variable (repeatable)",
    )
    parser.add_argument(
        "--params-file",
        default=None,
        help="JSON object of job parameters (e.g. jobs/create_data.<name>.json)",
    )
    parser.add_argument(
        "--bundle-root", default=None, help="folder with databricks.yml (default: search upwards)"
    )
    summaries.add_fail_on_reject(parser)


def pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise BricksmlError(f"{flag} {item!r}: write it as NAME=VALUE")
        out[name.strip()] = value
    return out


def read_params_file(path: str) -> dict[str, str]:
    """A run-book parameter set: a JSON object of parameter names to values."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise BricksmlError(f"--params-file {path!r}: {exc.strerror}") from None
    except ValueError as exc:
        raise BricksmlError(f"--params-file {path!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BricksmlError(f"--params-file {path!r} must hold a JSON object of parameter names to values")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def run_job(bundle: config.Bundle, job: str, overrides: dict[str, str], progress: Progress) -> JobRun:
    """The bundle runner, imported when a job runs: Jupyter's client libraries take ~0.3 s to load."""
    from bricksml.bundle import runner

    return runner.run_job(bundle, job, overrides, progress=progress)


def run(args: argparse.Namespace) -> dict:
    root = Path(args.bundle_root).resolve() if args.bundle_root else None
    bundle = config.load(root, args.target, pairs(args.var, "--var"))
    overrides = read_params_file(args.params_file) if args.params_file else {}
    overrides.update(pairs(args.param, "--param"))
    job_run = run_job(bundle, args.job, overrides, progress=Progress())
    data = job_run.to_dict()
    if args.fail_on_reject:
        results = [t["result"] for t in data["tasks"]]  # the gate's among them, if the job has one
        summaries.raise_if_rejected(results, data, render(data) if args.output == "text" else None)
    return data


def render(data: dict) -> str:
    """The run, its executed notebooks, then what each task returned (scores, the gate, outputs)."""
    lines = [f"job {data['job']} (target {data['target']}) finished: run {data['run_id']}"]
    lines += [f"  {t['task_key']}: {t['executed_notebook']} ({t['seconds']}s)" for t in data["tasks"]]
    lines += summaries.tasks_lines(data["tasks"])
    return "\n".join(lines)
