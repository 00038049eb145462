"""The real Databricks CLI validates, deploys and runs this bundle against a fake workspace.

Its development-mode and permission rules are stricter than any schema, and only a deploy shows
what the workspace is asked to create. The CLI is built once by ``scripts/databricks-cli.sh``
(cached outside the clone); the workspace is ``tests/fake_workspace.py`` on 127.0.0.1, which is also
the CLI's HTTP(S) proxy, so a request for any other host is refused and fails the test that made it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: build, a dev dependency, brings tomli there
    import tomli as tomllib

from bricksml.bundle import config
from bricksml.params import TrainParams

from .fake_workspace import FakeWorkspace, Identity
from .test_bundle import INSTALL

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("databricks_cli")]

ROOT = Path(__file__).resolve().parents[1]
TARGETS = sorted(yaml.safe_load((ROOT / "databricks.yml").read_text())["targets"])
DEVELOPER = Identity("jane.doe@example.com", "1001", "Jane Doe")
# CI and CD sign in as this service principal (DATABRICKS_CLIENT_ID = BUNDLE_VAR_service_principal).
DEPLOYER = Identity(
    "6b3a8f5e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "2002", "bricksml-deployer", service_principal=True
)
TOKENS = {"dapi-developer": DEVELOPER, "dapi-deployer": DEPLOYER}
SIGNED_IN = {"dev": "dapi-developer"}  # every other target is deployed by the service principal
DEV_SCHEMA = "dev_jane_doe_bricksml"  # development mode prefixes the schema with dev_<short name>_
STALE = "99.0.0"  # a wheel another branch built, left in dist/: of several, the CLI deploys the highest
DIAGNOSTIC = re.compile(r"^(Error|Warning|Warn|Recommendation): .*$", re.MULTILINE)


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    def diagnostics(self) -> list[str]:
        """The CLI's errors, warnings and recommendations, one summary line each."""
        return [m.group(0) for m in DIAGNOSTIC.finditer(self.stderr)]


@pytest.fixture(scope="session")
def databricks() -> Path:
    """The CLI binary: built by the script on the first run, then taken from its cache."""
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "databricks-cli.sh")], capture_output=True, text=True, timeout=3600
    )
    if out.returncode == 3 and not os.environ.get("CI"):
        pytest.skip(out.stderr.strip())  # no Go toolchain and no databricks binary on this machine
    assert out.returncode == 0, out.stderr
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """The wheel's build requirements as files, so the artifact build needs no index at deploy time.

    The bundle builds its wheel with ``python -m build``, which installs the build system into a
    fresh environment; fetched once from the package index and cached outside the clone.
    """
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    key = hashlib.sha256(json.dumps(sorted(requires)).encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bricksml"
    folder = cache / f"build-wheelhouse-{key}"
    if not folder.is_dir():
        partial = cache / f"build-wheelhouse-{key}.{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
        out = subprocess.run([*pip, "--dest", str(partial), *requires], capture_output=True, text=True)
        assert out.returncode == 0, f"cannot fetch the build requirements {requires}: {out.stderr}"
        partial.rename(folder)
    return folder


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundle as git sees it (tracked and unignored files, and .git for bundle.git.*).

    Deploy builds the wheel and keeps state in the bundle folder: a copy keeps that out of the clone.
    """
    copy = tmp_path_factory.mktemp("bundle")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    shutil.copytree(ROOT / ".git", copy / ".git", symlinks=True)
    return copy


@pytest.fixture(scope="module")
def workspace() -> Iterator[FakeWorkspace]:
    with FakeWorkspace(TOKENS) as fake:
        yield fake


Cli = Callable[..., Result]


@pytest.fixture(scope="module")
def cli(
    databricks: Path,
    wheelhouse: Path,
    workspace: FakeWorkspace,
    bundle: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Cli:
    """Runs `databricks ARGS` in the bundle copy, signed in to the fake, with nothing of this machine's.

    The environment is built from scratch: no DATABRICKS_* or BUNDLE_VAR_* of the caller, an empty
    config file instead of ~/.databrickscfg, a fresh HOME, the direct deployment engine (no Terraform
    to download), the venv's python first on PATH for the wheel build, and the fake as the proxy for
    every other host. Each call asserts that the fake answered everything it was asked.
    """
    home = tmp_path_factory.mktemp("home")
    (home / "databrickscfg").write_text("")

    def run(*args: str, token: str, cwd: Path | None = None) -> Result:
        before = (len(workspace.unknown), len(workspace.outside), len(workspace.failures))
        proxy = {name: workspace.url for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")}
        full = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(home),
            "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
            "DATABRICKS_HOST": workspace.url,
            "DATABRICKS_TOKEN": token,
            "DATABRICKS_CONFIG_FILE": str(home / "databrickscfg"),
            "DATABRICKS_BUNDLE_ENGINE": "direct",
            "BUNDLE_VAR_service_principal": DEPLOYER.user_name,
            **proxy,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(wheelhouse),
        }
        out = subprocess.run(
            [str(databricks), *args], cwd=cwd or bundle, env=full, capture_output=True, text=True, timeout=600
        )
        assert workspace.outside[before[1] :] == [], f"requests for other hosts: {out.stderr}"
        assert workspace.unknown[before[0] :] == [], "calls the fake does not answer (add them)"
        assert workspace.failures[before[2] :] == [], "the fake failed to answer"
        return Result(out.returncode, out.stdout, out.stderr)

    return run


def _root_path(target: str) -> str:
    identity = TOKENS[SIGNED_IN.get(target, "dapi-deployer")]
    return f"/Workspace/Users/{identity.user_name}/.bundle/bricksml/{target}"


# -- validate ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_validate_passes_without_errors_or_warnings(cli: Cli, bundle: Path, target: str) -> None:
    out = cli(
        "bundle", "validate", "-t", target, "--output", "json", token=SIGNED_IN.get(target, "dapi-deployer")
    )
    assert out.returncode == 0, out.stderr
    assert out.diagnostics() == [], out.stderr
    resolved = json.loads(out.stdout)
    assert resolved["bundle"]["target"] == target
    # Each target in a folder of the identity that deploys it, which only it (and admins) can write.
    assert resolved["workspace"]["root_path"] == _root_path(target)
    assert sorted(resolved["resources"]["jobs"]) == sorted(config.load(bundle, target).resources["jobs"])


def test_validate_reports_a_root_path_all_users_can_write(cli: Cli, bundle: Path, tmp_path: Path) -> None:
    # The check above can fail: the same bundle with staging back under /Workspace/Shared warns.
    shared = tmp_path / "shared"
    shutil.copytree(bundle, shared, symlinks=True, ignore=shutil.ignore_patterns(".databricks"))
    main = yaml.safe_load((shared / "databricks.yml").read_text())
    main["targets"]["staging"]["workspace"]["root_path"] = (
        "/Workspace/Shared/.bundle/${bundle.name}/${bundle.target}"
    )
    (shared / "databricks.yml").write_text(yaml.safe_dump(main, sort_keys=False))
    out = cli("bundle", "validate", "-t", "staging", token="dapi-deployer", cwd=shared)
    warning = (
        "the bundle root path /Workspace/Shared/.bundle/bricksml/staging is writable by all workspace users"
    )
    assert out.diagnostics() == [f"Warning: {warning}"], out.stderr


def test_requests_for_other_hosts_are_caught(cli: Cli) -> None:
    # The CLI's own version check goes to GitHub: the proxy refuses it, and the fake records it.
    with pytest.raises(AssertionError, match="requests for other hosts"):
        cli("version", "--check", token="dapi-developer")


# -- deploy and run ----------------------------------------------------------------------------


def _leftovers(bundle: Path) -> None:
    """What earlier builds leave in a developer's clone: another branch's wheel in dist/, and in
    build/lib a module since deleted from src/ (setuptools would copy it into the wheel)."""
    (bundle / "dist").mkdir(exist_ok=True)
    with zipfile.ZipFile(bundle / "dist" / f"bricksml-{STALE}-py3-none-any.whl", "w") as stale:
        stale.writestr("bricksml/__init__.py", "")
        stale.writestr(
            f"bricksml-{STALE}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: bricksml\nVersion: {STALE}\n",
        )
        stale.writestr(f"bricksml-{STALE}.dist-info/RECORD", "")
    (bundle / "build" / "lib" / "bricksml").mkdir(parents=True, exist_ok=True)
    (bundle / "build" / "lib" / "bricksml" / "deleted_module.py").write_text("")


@pytest.fixture(scope="module")
def deployed_dev(cli: Cli, bundle: Path) -> Result:
    _leftovers(bundle)
    out = cli("bundle", "deploy", "-t", "dev", token="dapi-developer")
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="module")
def deployed_staging(cli: Cli) -> Result:
    out = cli("bundle", "deploy", "-t", "staging", token="dapi-deployer")
    assert out.returncode == 0, out.stderr
    return out


def _jobs(workspace: FakeWorkspace, target: str) -> dict[str, dict]:
    """The deployed jobs of one target by resource key (bricksml-<key>), as the API returns them."""
    found = {}
    for job in workspace.jobs.values():
        settings = job.settings.as_dict()
        if settings.get("tags", {}).get("target") == target:
            found[settings["name"].rsplit("bricksml-", 1)[1]] = {"job_id": job.job_id, **settings}
    return found


def _parameters(job: dict) -> list[tuple[str, str]]:
    return [(p["name"], p.get("default", "")) for p in job.get("parameters", [])]


def _git_head(bundle: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=bundle, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_deploy_dev_creates_what_the_bundle_declares(
    deployed_dev: Result, workspace: FakeWorkspace, bundle: Path
) -> None:
    assert deployed_dev.diagnostics() == [], deployed_dev.stderr
    assert "Deployment complete!" in deployed_dev.stderr
    jobs = _jobs(workspace, "dev")
    assert sorted(jobs) == sorted(config.load(bundle, "dev").resources["jobs"])
    for key, job in jobs.items():
        assert job["name"] == f"[dev jane_doe] bricksml-{key}"
        assert job["tags"]["git_commit"] == _git_head(bundle)
    assert f"main.{DEV_SCHEMA}" in workspace.schemas
    volume = workspace.volumes[f"main.{DEV_SCHEMA}.data"]
    assert volume.volume_type.value == "MANAGED"
    [model] = [m for m in workspace.registered_models.values() if m.schema_name == DEV_SCHEMA]
    assert workspace.grants[f"FUNCTION:{model.full_name}"][0].as_dict() == {
        "principal": "account users",
        "privileges": ["EXECUTE"],
    }
    names = sorted(e.name for e in workspace.experiments.values() if e.name.startswith("/Users/jane.doe"))
    assert names == ["/Users/jane.doe@example.com/bricksml/[dev jane_doe] financial_sentiment"]


def _created_jobs(workspace: FakeWorkspace, target: str) -> dict[str, dict]:
    """The settings each jobs/create request of one target sent, by resource key."""
    found = {}
    for call in workspace.requests:
        if call.method == "POST" and call.path == "/api/2.2/jobs/create":
            if call.body.get("tags", {}).get("target") == target:
                found[call.body["name"].rsplit("bricksml-", 1)[1]] = call.body
    return found


def _uploaded_wheel(workspace: FakeWorkspace, target: str) -> tuple[str, bytes]:
    """The one wheel deploy uploaded for a target: its workspace path (/Workspace/...) and bytes."""
    root = _root_path(target)
    wheels = {p: data for p, data in workspace.files(f"{root}/artifacts").items() if p.endswith(".whl")}
    assert len(wheels) == 1, sorted(wheels)
    [(path, data)] = wheels.items()
    return f"/Workspace{path}", data


def test_deploy_dev_uploads_the_notebooks(deployed_dev: Result, workspace: FakeWorkspace) -> None:
    root = _root_path("dev")
    for job in _jobs(workspace, "dev").values():
        for task in job["tasks"]:
            if "notebook_task" in task:
                path = task["notebook_task"]["notebook_path"]
                assert path.startswith(f"{root}/files/notebooks/"), path
                assert workspace.exists(path), f"{path} was not uploaded"


def test_deploy_dev_uploads_one_fresh_wheel_of_exactly_the_source(
    deployed_dev: Result, workspace: FakeWorkspace, bundle: Path
) -> None:
    path, data = _uploaded_wheel(workspace, "dev")
    version = tomllib.loads((bundle / "pyproject.toml").read_text())["project"]["version"]
    # artifacts_dynamic_version: the project's version plus a local part of this build, so every
    # deploy installs anew; the other branch's wheel left in dist/ is not the one uploaded.
    name = re.fullmatch(
        rf"{re.escape(_root_path('dev'))}/artifacts/\.internal/bricksml-([^-]+)-py3-none-any\.whl", path
    )
    assert name, path
    assert re.fullmatch(rf"{re.escape(version)}\+\d+", name.group(1)), name.group(1)
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        metadata = wheel.read(f"bricksml-{name.group(1)}.dist-info/METADATA").decode()
        assert f"\nVersion: {name.group(1)}\n" in metadata
        modules = {n: wheel.read(n) for n in wheel.namelist() if n.endswith(".py")}
    source = bundle / "src"
    expected = {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*.py")}
    # Module for module the source tree deployed, and nothing an earlier build left in build/lib.
    assert sorted(modules) == sorted(expected)
    assert modules == expected


@pytest.mark.parametrize("target", ["dev", "staging"])
def test_every_task_of_every_job_installs_the_uploaded_wheel(
    target: str, request: pytest.FixtureRequest, workspace: FakeWorkspace
) -> None:
    request.getfixturevalue(f"deployed_{target}")
    wheel, _ = _uploaded_wheel(workspace, target)
    created = _created_jobs(workspace, target)
    ids = {job["job_id"]: key for key, job in _jobs(workspace, target).items()}
    assert sorted(created) == sorted(ids.values())
    for key, job in created.items():
        environments = {e["environment_key"]: e["spec"] for e in job.get("environments") or []}
        for task in job["tasks"]:
            name = f"{key}.{task['task_key']}"
            if "run_job_task" in task:  # starts a job of this deploy, which this loop checks too
                assert task["run_job_task"]["job_id"] in ids, name
            elif "condition_task" in task:  # compares task values: runs no code
                pass
            else:
                assert "notebook_task" in task, f"{name}: a task kind this check does not know"
                # The task's serverless environment, which overrides the notebook's, is that wheel.
                spec = environments.get(task.get("environment_key"), {})
                assert spec.get("dependencies") == [wheel], f"{name} runs in {spec or 'no job environment'}"


def test_no_deployed_notebook_installs_anything(deployed_dev: Result, workspace: FakeWorkspace) -> None:
    notebooks = workspace.files(f"{_root_path('dev')}/files/notebooks")
    assert notebooks
    for path, data in notebooks.items():
        cells = json.loads(data)["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        assert code and not [c for c in code if INSTALL.search(c)], path


def test_deployed_dev_jobs_take_the_parameters_a_local_run_resolves(
    deployed_dev: Result, workspace: FakeWorkspace, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("BUNDLE_VAR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_USER", DEVELOPER.user_name)
    # The local mirror has no development prefix: give it the schema name the workspace has.
    local = config.load(bundle, "dev", {"schema": DEV_SCHEMA})
    deployed = _jobs(workspace, "dev")
    for key in ("create_data", "train_models"):
        assert _parameters(deployed[key]) == _parameters(local.job(key)), key
    # inference logs to the bundle's own experiment, whose name development mode prefixes too.
    [experiment] = [e.name for e in workspace.experiments.values() if e.name.endswith("] inference")]
    expected = [
        (n, experiment if n == "experiment_name" else v) for n, v in _parameters(local.job("inference"))
    ]
    assert _parameters(deployed["inference"]) == expected
    # The pipeline starts the jobs this deploy created (each task is named after its job).
    children = {t["task_key"]: t["run_job_task"]["job_id"] for t in deployed["pipeline"]["tasks"]}
    assert children == {k: deployed[k]["job_id"] for k in ("create_data", "train_models", "inference")}


def test_bundle_run_starts_the_deployed_job_and_waits_for_it(
    deployed_dev: Result, cli: Cli, workspace: FakeWorkspace
) -> None:
    before = len(workspace.requests)
    out = cli(
        "bundle", "run", "-t", "dev", "train_models", "--params", "data_version=v2", token="dapi-developer"
    )
    assert out.returncode == 0, out.stderr
    assert "TERMINATED SUCCESS" in out.stderr
    calls = workspace.requests[before:]
    [run_now] = [c for c in calls if c.path == "/api/2.2/jobs/run-now"]
    assert run_now.body["job_id"] == _jobs(workspace, "dev")["train_models"]["job_id"]
    assert run_now.body["job_parameters"] == {"data_version": "v2"}
    assert any(c.path == "/api/2.2/jobs/runs/get" for c in calls)


def test_deployed_staging_jobs_equal_the_local_resolution(
    deployed_staging: Result, workspace: FakeWorkspace, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert deployed_staging.diagnostics() == [], deployed_staging.stderr
    for name in list(os.environ):
        if name.startswith("BUNDLE_VAR_"):
            monkeypatch.delenv(name)
    # No development mode: names and parameters are exactly what a local run resolves.
    local = config.load(bundle, "staging", {"service_principal": DEPLOYER.user_name})
    deployed = _jobs(workspace, "staging")
    assert sorted(deployed) == sorted(local.resources["jobs"])
    for key in ("create_data", "train_models", "inference"):
        assert _parameters(deployed[key]) == _parameters(local.job(key)), key
        assert deployed[key]["name"] == local.job(key)["name"]
        assert deployed[key]["run_as"] == {"service_principal_name": DEPLOYER.user_name}
    # The job trains into the experiment and the registered model the bundle declares.
    train = TrainParams.parse(dict(_parameters(deployed["train_models"])))
    assert train.experiment in {e.name for e in workspace.experiments.values()}
    assert train.registered_model_name in workspace.registered_models


def test_deployed_staging_is_written_only_by_the_service_principal(
    deployed_staging: Result, workspace: FakeWorkspace
) -> None:
    sp = f"service_principal:{DEPLOYER.user_name}"
    # databricks.yml: CAN_MANAGE for the service principal, CAN_VIEW for the operators group.
    assert workspace.folder_access(_root_path("staging")) == {
        "group:admins": "CAN_MANAGE",
        sp: "CAN_MANAGE",
        "group:users": "CAN_READ",
    }
    for key, job in _jobs(workspace, "staging").items():
        acl = workspace.permissions[f"jobs/{job['job_id']}"]
        # run_as makes the principal the owner; the operators group only views the runs.
        assert sorted(acl, key=json.dumps) == [
            {"group_name": "users", "permission_level": "CAN_VIEW"},
            {"permission_level": "IS_OWNER", "service_principal_name": DEPLOYER.user_name},
        ], key
