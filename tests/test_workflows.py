"""GitHub workflow files are valid against the published schema, and call commands that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_schema(workflow: Path) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(workflow),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_make_targets_called_by_workflows_exist(workflow: Path) -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    data = yaml.safe_load(workflow.read_text())
    for job in data["jobs"].values():
        for step in job.get("steps", []):
            for called in re.findall(r"\bmake ([a-z][a-z-]*)", step.get("run", "")):
                assert called in targets, f"{workflow.name} runs 'make {called}', which the Makefile lacks"


def test_actions_are_pinned_by_commit() -> None:
    for workflow in WORKFLOWS:
        data = yaml.safe_load(workflow.read_text())
        for job in data["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step and not step["uses"].startswith("./"):
                    assert re.search(r"@[0-9a-f]{40}$", step["uses"]), f"{workflow.name}: {step['uses']}"


def _run_lines(workflow: Path) -> list[str]:
    data = yaml.safe_load(workflow.read_text())
    return [step.get("run", "") for job in data["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_bricksml_commands_called_by_workflows_exist(workflow: Path) -> None:
    from bricksml.cli.commands import COMMANDS

    names = {command.NAME for command in COMMANDS}
    for run in _run_lines(workflow):
        for called in re.findall(r"\bbricksml ([a-z][a-z-]*)", run):
            assert called in names, f"{workflow.name} runs 'bricksml {called}', which the CLI lacks"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_bundle_targets_and_jobs_called_by_workflows_exist(workflow: Path) -> None:
    bundle = yaml.safe_load((ROOT / "databricks.yml").read_text())
    jobs = {
        key
        for path in (ROOT / "resources").glob("*.yml")
        for key in ((yaml.safe_load(path.read_text()).get("resources") or {}).get("jobs") or {})
    }
    for run in _run_lines(workflow):
        for target in re.findall(r"(?:-t|--target) ([a-z]+)", run):
            assert target in bundle["targets"], f"{workflow.name}: unknown bundle target {target!r}"
        for job in re.findall(r"\b(?:bundle run|bricksml trigger|bricksml run) ([a-z_]+)", run):
            assert job in jobs, f"{workflow.name}: unknown job {job!r}"


def test_workspace_jobs_use_oidc_and_no_stored_token() -> None:
    for workflow in WORKFLOWS:
        text = workflow.read_text()
        assert "DATABRICKS_TOKEN" not in text, f"{workflow.name} uses a personal token"
        data = yaml.safe_load(text)
        for name, job in data["jobs"].items():
            if any("databricks bundle" in run for run in _run_lines(workflow)) and "env" in job:
                env = job["env"]
                if "DATABRICKS_HOST" in env:
                    assert job["permissions"]["id-token"] == "write", f"{workflow.name}:{name}"
                    assert "github-oidc" in env["DATABRICKS_AUTH_TYPE"], f"{workflow.name}:{name}"
