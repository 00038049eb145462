"""The isolated local workspace every test that touches files or MLflow runs in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from hypothesis import settings

from bricksml.tracking import setup

# On CI the property tests draw the same examples every run: a red build is always reproducible.
# Locally they draw new ones, which is how the rare cases get found.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: What the machine's environment may set that would point a test at another store or at Databricks.
OUTSIDE = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "DATABRICKS_RUNTIME_VERSION")


def _isolate(mp: pytest.MonkeyPatch, root: Path) -> None:
    mp.setenv("BRICKSML_LOCAL_ROOT", str(root))
    for name in OUTSIDE:
        mp.delenv(name, raising=False)
    # This process's MLflow on the mirror's store from the start: a test that reads the registry
    # before any job ran must not fall back to ./mlruns (whichever test a worker runs first).
    setup.configure()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A local mirror of the workspace (files and a SQLite MLflow) shared by one test module."""
    root = tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2].removeprefix("test_"))
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, root)
        yield root
    mlflow.set_tracking_uri(None)


@pytest.fixture
def local_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A local mirror of the workspace of one test's own, under its tmp_path."""
    root = tmp_path / "root"
    _isolate(monkeypatch, root)
    yield root
    mlflow.set_tracking_uri(None)
