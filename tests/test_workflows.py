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
