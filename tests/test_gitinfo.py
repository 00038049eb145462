"""The commit in a model's lineage: the environment's word first, else the working copy's."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bricksml import gitinfo

ROOT = Path(__file__).resolve().parents[1]


def test_the_environment_names_the_commit_when_it_knows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(gitinfo.COMMIT_ENV, "0123abc")
    assert gitinfo.code_commit() == "0123abc"


def test_without_it_the_working_copy_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(gitinfo.COMMIT_ENV, raising=False)
    expected = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    assert gitinfo.code_commit() == expected.strip() and len(expected.strip()) == 40


def test_outside_a_working_copy_there_is_no_commit(tmp_path: Path) -> None:
    assert gitinfo.head(tmp_path) == ""
