"""Local vs Databricks: path mapping, MLflow URIs and job parameters."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mlflow
import pytest

from bricksml import runtime
from bricksml.errors import BricksmlError
from bricksml.tracking import setup


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.delenv(runtime.INJECTED_PARAMETERS_ENV, raising=False)
    monkeypatch.setenv(runtime.LOCAL_ROOT_ENV, str(tmp_path))
    return tmp_path


@pytest.fixture
def databricks(local: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    return local


@pytest.mark.parametrize(
    "path,expected",
    [
        ("/Volumes/main/bricksml/data", "Volumes/main/bricksml/data"),
        ("/Volumes/main/bricksml/data/x/raw/s.csv", "Volumes/main/bricksml/data/x/raw/s.csv"),
        ("/Workspace/Shared/bricksml/nb", "Workspace/Shared/bricksml/nb"),
        ("dbfs:/Volumes/main/bricksml/data/f.csv", "Volumes/main/bricksml/data/f.csv"),
        ("dbfs:/Workspace/Users/me/f", "Workspace/Users/me/f"),
        ("dbfs:/tmp/f.csv", "dbfs/tmp/f.csv"),
        ("/dbfs/tmp/f.csv", "dbfs/tmp/f.csv"),
        ("/Volumes", "Volumes"),
    ],
)
def test_resolve_path_mirrors_workspace_paths_locally(local: Path, path: str, expected: str) -> None:
    assert runtime.resolve_path(path) == local / expected
    assert runtime.resolve_path(Path(path) if not path.startswith("dbfs:") else path) == local / expected


@pytest.mark.parametrize("path", ["data/raw.csv", "raw.csv", "./x/y.parquet", "/tmp/elsewhere.csv"])
def test_resolve_path_leaves_other_paths_alone(local: Path, path: str) -> None:
    assert runtime.resolve_path(path) == Path(path)


def test_resolve_path_does_not_mirror_lookalike_prefixes(local: Path) -> None:
    assert runtime.resolve_path("/VolumesX/a") == Path("/VolumesX/a")


@pytest.mark.parametrize(
    "path,expected",
    [
        ("/Volumes/main/bricksml/data", "/Volumes/main/bricksml/data"),
        ("/Workspace/Shared/x", "/Workspace/Shared/x"),
        ("dbfs:/Volumes/main/b/data/f.csv", "/Volumes/main/b/data/f.csv"),
        ("data/raw.csv", "data/raw.csv"),
    ],
)
def test_resolve_path_on_databricks_is_unchanged(databricks: Path, path: str, expected: str) -> None:
    assert runtime.on_databricks()
    assert runtime.resolve_path(path) == Path(expected)


@pytest.mark.parametrize(
    ("path", "root"),
    [
        ("/Volumes/../../etc", "/Volumes"),
        ("/Volumes/..", "/Volumes"),
        ("/Volumes/main/../../Workspace/x", "/Volumes"),
        ("/Workspace/Shared/../../../x", "/Workspace"),
        ("dbfs:/tmp/../../etc/passwd", "/dbfs"),
    ],
)
@pytest.mark.parametrize("where", ["local", "databricks"])
def test_a_workspace_path_that_climbs_out_of_its_root_is_refused(
    request: pytest.FixtureRequest, where: str, path: str, root: str
) -> None:
    """Locally it would land outside the mirror (next to it, or anywhere); on Databricks outside the
    volumes: the same refusal in both places, so that a local run cannot pass what Databricks refuses."""
    request.getfixturevalue(where)
    with pytest.raises(BricksmlError) as caught:
        runtime.resolve_path(path)
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(f"the path {path!r} climbs out of {root} with '..'")


def test_a_workspace_path_whose_dots_stay_inside_resolves_to_where_they_lead(local: Path) -> None:
    assert runtime.resolve_path("/Volumes/main/../lab/data/./x") == local / "Volumes/lab/data/x"
    assert runtime.resolve_path("/Volumes/main/..") == local / "Volumes"


def test_a_local_path_with_dots_is_the_user_s_own(local: Path) -> None:
    assert runtime.resolve_path("../data/raw.csv") == Path("../data/raw.csv")
    assert runtime.resolve_path("/tmp/a/../b.csv") == Path("/tmp/a/../b.csv")


def test_local_root_defaults_to_dot_bricksml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(runtime.LOCAL_ROOT_ENV, raising=False)
    assert runtime.local_root() == Path(".bricksml").absolute()


def test_local_root_is_absolute_from_env(local: Path) -> None:
    assert runtime.local_root() == local
    assert runtime.local_root().is_absolute()


def test_tracking_uri_prefers_env(local: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://localhost:5000")
    assert runtime.tracking_uri() == "http://localhost:5000"
    assert runtime.registry_uri() == "http://localhost:5000"


def test_tracking_uri_defaults_to_sqlite_under_local_root(local: Path) -> None:
    uri = runtime.tracking_uri()
    assert uri == f"sqlite:///{local / 'mlflow' / 'mlflow.db'}"
    assert (local / "mlflow").is_dir()
    assert runtime.registry_uri() == uri


def test_registry_uri_prefers_env(local: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "sqlite:///reg.db")
    assert runtime.registry_uri() == "sqlite:///reg.db"


def test_uris_on_databricks(databricks: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://ignored")
    assert runtime.tracking_uri() == "databricks"
    assert runtime.registry_uri() == "databricks-uc"


def test_artifact_root_is_a_file_uri_under_local_root(local: Path) -> None:
    assert runtime.artifact_root() == (local / "mlflow" / "artifacts").as_uri()


def test_bundle_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(runtime.TARGET_ENV, raising=False)
    assert runtime.bundle_target() == "local"
    monkeypatch.setenv(runtime.TARGET_ENV, "prod")
    assert runtime.bundle_target() == "prod"


def test_read_job_parameters_uses_defaults_without_injection(local: Path) -> None:
    got = runtime.read_job_parameters(["a", "b", "c"], {"a": "1", "b": ""})
    assert got == {"a": "1", "b": "", "c": ""}


def test_read_job_parameters_reads_injected_json(local: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.INJECTED_PARAMETERS_ENV, json.dumps({"a": "x", "n": 3, "extra": "ignored"}))
    got = runtime.read_job_parameters(iter(["a", "b", "n"]), {"a": "1", "b": "2"})
    assert got == {"a": "x", "b": "2", "n": "3"}
    assert all(isinstance(v, str) for v in got.values())


def test_read_job_parameters_empty_env_means_defaults(local: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.INJECTED_PARAMETERS_ENV, "")
    assert runtime.read_job_parameters(["a"], {"a": "d"}) == {"a": "d"}


def test_each_local_root_gets_its_own_store_in_one_process(
    local: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow exports the URIs it is given; the next root must not inherit the first one's store."""
    other = tmp_path_factory.mktemp("other-root")
    try:
        assert setup.configure() == f"sqlite:///{local}/mlflow/mlflow.db"
        monkeypatch.setenv(runtime.LOCAL_ROOT_ENV, str(other))
        assert setup.configure() == f"sqlite:///{other}/mlflow/mlflow.db"
        assert mlflow.get_tracking_uri() == mlflow.get_registry_uri() == f"sqlite:///{other}/mlflow/mlflow.db"
        assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
        # A URI the user set stays set, for this process and its children.
        monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
        assert setup.configure() == "http://127.0.0.1:5999"
        assert os.environ["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5999"
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
