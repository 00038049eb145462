"""The code version: the one helper that asks git (or the environment) for the commit."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

#: Set by whoever knows the commit better than the working copy (CI, a bundle job's parameter).
COMMIT_ENV = "BRICKSML_GIT_COMMIT"


def head(folder: Path) -> str:
    """The commit checked out in the git working copy around ``folder``; empty outside one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def code_commit() -> str:
    """The commit of the running bricksml code: the environment's word, else its working copy's.

    An installed wheel has no working copy (site-packages): then only the environment knows.
    """
    return os.environ.get(COMMIT_ENV) or head(Path(__file__).resolve().parent)
