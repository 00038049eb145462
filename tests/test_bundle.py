"""Offline checks of the bundle: resources load into the typed classes and match the contracts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from databricks.bundles.apps import App
from databricks.bundles.experiments import MlflowExperiment
from databricks.bundles.jobs import Job
from databricks.bundles.registered_models import RegisteredModel
from databricks.bundles.schemas import Schema
from databricks.bundles.volumes import Volume

from bricksml.bundle import config
from bricksml.errors import BricksmlError
from bricksml.params import CreateDataParams, InferenceParams, TrainParams
from bricksml.params.monitor import MonitorParams

ROOT = Path(__file__).resolve().parents[1]
RESOURCE_FILES = sorted((ROOT / "resources").glob("*.yml"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONTRACTS = {
    "create_data": CreateDataParams,
    "train_models": TrainParams,
    "inference": InferenceParams,
    "monitor": MonitorParams,
}
TYPED = {
    "apps": App,
    "jobs": Job,
    "schemas": Schema,
    "volumes": Volume,
    "registered_models": RegisteredModel,
    "experiments": MlflowExperiment,
}
VAR_REF = re.compile(r"\$\{var\.([A-Za-z0-9_\-]+)\}")
DATA_ROOT = "/Volumes/main/bricksml/data"


def _raw(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name} must hold a mapping"
    return data


def _resources() -> list[tuple[str, str, dict, Path]]:
    out = []
    for path in RESOURCE_FILES:
        for kind, items in (_raw(path).get("resources") or {}).items():
            for key, value in (items or {}).items():
                out.append((kind, key, value, path))
    return out


def _jobs() -> dict[str, tuple[dict, Path]]:
    return {key: (value, path) for kind, key, value, path in _resources() if kind == "jobs"}


def _job_notebooks(job: dict, job_file: Path) -> list[Path]:
    out = []
    for task in job.get("tasks") or []:
        if "notebook_task" in task:
            path = (job_file.parent / task["notebook_task"]["notebook_path"]).resolve()
            out.append(path if path.suffix else path.with_suffix(".ipynb"))
    return out


def test_there_are_resources_and_notebooks() -> None:
    assert RESOURCE_FILES
    assert NOTEBOOKS
    notebook_jobs = {k for k, (job, _) in _jobs().items() if any("notebook_task" in t for t in job["tasks"])}
    assert set(CONTRACTS) == notebook_jobs, "every notebook job needs a parameter contract in CONTRACTS"


@pytest.mark.parametrize("path", RESOURCE_FILES, ids=lambda p: p.name)
def test_resource_file_loads(path: Path) -> None:
    data = _raw(path)
    assert set(data) <= {"resources", "variables", "targets"}, path.name
    assert data.get("resources"), f"{path.name} declares no resources"


@pytest.mark.parametrize("kind,key,value,path", _resources(), ids=lambda v: v if isinstance(v, str) else "")
def test_resource_loads_into_typed_class_without_unknown_fields(
    kind: str, key: str, value: dict, path: Path
) -> None:
    assert kind in TYPED, f"{path.name}: no typed class checked for resource kind {kind!r}"
    TYPED[kind].from_dict(value)  # raises ValueError on an unknown field


def test_typed_classes_refuse_unknown_fields() -> None:
    job, _ = _jobs()["create_data"]
    with pytest.raises(ValueError, match="bogus"):
        Job.from_dict({**job, "bogus": 1})
    with pytest.raises(ValueError, match="bogus"):
        Job.from_dict({**job, "tasks": [{**job["tasks"][0], "bogus": 1}]})


def test_bundle_file_loads() -> None:
    data = _raw(ROOT / "databricks.yml")
    assert data["bundle"]["name"] == "bricksml"
    assert "resources/*.yml" in data["include"]
    assert sum(1 for t in data["targets"].values() if (t or {}).get("default")) == 1


@pytest.mark.parametrize("job_key", sorted(CONTRACTS))
def test_notebook_paths_exist(job_key: str) -> None:
    job, path = _jobs()[job_key]
    notebooks = _job_notebooks(job, path)
    assert notebooks
    for notebook in notebooks:
        assert notebook.is_file(), f"{job_key}: {notebook} does not exist"


def test_every_variable_used_is_declared() -> None:
    declared = set(_raw(ROOT / "databricks.yml")["variables"])
    for path in [ROOT / "databricks.yml", *RESOURCE_FILES]:
        used = set(VAR_REF.findall(path.read_text()))
        assert used <= declared, f"{path.name} uses undeclared variables {sorted(used - declared)}"


@pytest.mark.parametrize("job_key", sorted(CONTRACTS))
def test_job_parameter_names_match_the_contract(job_key: str) -> None:
    job, _ = _jobs()[job_key]
    names = [p["name"] for p in job["parameters"]]
    assert len(names) == len(set(names)), "a parameter is declared twice"
    assert names == CONTRACTS[job_key].names()


@pytest.mark.parametrize("job_key", sorted(CONTRACTS))
def test_job_data_root_default_is_the_data_volume(job_key: str) -> None:
    job, _ = _jobs()[job_key]
    declared = {p["name"]: p.get("default") for p in job["parameters"]}
    volume = "resources.volumes.data"
    assert (
        declared["data_root"]
        == f"/Volumes/${{{volume}.catalog_name}}/${{{volume}.schema_name}}/${{{volume}.name}}"
    )


@pytest.mark.parametrize("job_key", sorted(CONTRACTS))
def test_job_parameter_defaults_match_the_contract(job_key: str) -> None:
    contract = CONTRACTS[job_key]
    job, _ = _jobs()[job_key]
    declared = {p["name"]: p.get("default") for p in job["parameters"]}
    defaults = contract.default_strings()
    mismatched = {
        name: (declared.get(name), defaults[name])
        for name in contract.names()
        if name not in contract.required()
        and "${" not in str(declared.get(name))
        and declared.get(name) != defaults[name]
    }
    assert mismatched == {}, "YAML default != contract default (yaml, contract)"


@pytest.mark.parametrize("job_key", sorted(_jobs()))
def test_no_task_uses_base_parameters(job_key: str) -> None:
    job, _ = _jobs()[job_key]
    for task in job.get("tasks") or []:
        assert "base_parameters" not in (task.get("notebook_task") or {}), task["task_key"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(notebook: Path) -> None:
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{notebook.name} has outputs"
            assert cell.get("execution_count") is None, f"{notebook.name} has an execution_count"


@pytest.mark.parametrize("job_key", sorted(CONTRACTS))
def test_job_notebooks_use_the_contract(job_key: str) -> None:
    job, path = _jobs()[job_key]
    for notebook in _job_notebooks(job, path):
        nb = json.loads(notebook.read_text())
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert CONTRACTS[job_key].__name__ in code
        assert "read_job_parameters(" in code


PARAM_FILES = sorted((ROOT / "jobs").glob("*.json"))


def test_there_are_param_files() -> None:
    assert PARAM_FILES


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: p.name)
def test_param_files_hold_contract_names_and_parse(path: Path) -> None:
    contract = CONTRACTS[path.name.split(".")[0]]
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    assert set(data) <= set(contract.names())
    params = contract.parse(data)
    assert params.data_name == data["data_name"]


def test_every_job_has_a_param_file() -> None:
    assert {path.name.split(".")[0] for path in PARAM_FILES} == set(CONTRACTS)


def test_variable_defaults_resolve_to_values_the_contract_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    variables = (
        "catalog",
        "schema",
        "model",
        "gate_min_f1",
        "experiment_folder",
        "inference_experiment_name",
    )
    for name in variables:
        monkeypatch.delenv(f"BUNDLE_VAR_{name}", raising=False)
    bundle = config.load(ROOT, "dev")
    for job_key, contract in CONTRACTS.items():
        declared = {p["name"]: str(p.get("default", "")) for p in bundle.job(job_key)["parameters"]}
        if job_key == "inference":  # the input has no default: a run names it
            declared.update(data_name="financial_sentiment", data_version="v1")
        params = contract.parse(declared)
        assert "${" not in json.dumps(params.to_strings()), job_key
    train = TrainParams.parse(
        {p["name"]: str(p.get("default", "")) for p in bundle.job("train_models")["parameters"]}
    )
    assert train.registered_model_name == "main.bricksml.financial_sentiment"
    # The documented rule: another data set trains into a model and an experiment of its own.
    other = TrainParams.parse(
        {p["name"]: str(p.get("default", "")) for p in bundle.job("train_models")["parameters"]}
        | {"data_name": "campaign"}
    )
    assert other.registered_model_name == "main.bricksml.campaign"
    assert other.experiment.endswith("/bricksml/campaign")


TARGETS = sorted(_raw(ROOT / "databricks.yml")["targets"])


SCHEMAS = {"dev": "bricksml", "test": "bricksml_test", "staging": "bricksml_staging", "prod": "bricksml"}


@pytest.mark.parametrize("target", TARGETS)
def test_resolved_data_root_per_target(target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("catalog", "schema", "model", "experiment_folder"):
        monkeypatch.delenv(f"BUNDLE_VAR_{name}", raising=False)
    bundle = config.load(ROOT, target)
    assert bundle.target == target
    schema = SCHEMAS[target]
    for job in ("create_data", "train_models", "inference"):
        params = {p["name"]: p.get("default") for p in bundle.job(job)["parameters"]}
        assert params["data_root"] == f"/Volumes/main/{schema}/data"
    params = {p["name"]: p.get("default") for p in bundle.job("train_models")["parameters"]}
    train = TrainParams.parse({k: str(v) for k, v in params.items()})
    assert train.registered_model_name == f"main.{schema}.financial_sentiment"
    assert train.experiment == bundle.variables["experiment_folder"] + "/financial_sentiment"
    assert bundle.resources["experiments"]["train_models_runs"]["name"].endswith("financial_sentiment")
    assert "${" not in json.dumps(bundle.resources)  # every reference resolves

    monkeypatch.setenv("BUNDLE_VAR_catalog", "other")
    bundle = config.load(ROOT, target)
    params = {p["name"]: p.get("default") for p in bundle.job("create_data")["parameters"]}
    assert params["data_root"] == f"/Volumes/other/{schema}/data"
    assert bundle.resources["schemas"]["bricksml"]["catalog_name"] == "other"


def test_pipeline_runs_the_three_jobs_of_this_bundle_in_order() -> None:
    job = config.load(ROOT, "dev").job("pipeline")
    tasks = {t["task_key"]: t for t in job["tasks"]}
    assert [t["run_job_task"]["job_id"] for t in job["tasks"]] == [
        "resources.jobs.create_data.id",  # ids exist only in a workspace: kept as the reference
        "resources.jobs.train_models.id",
        "resources.jobs.inference.id",
    ]
    assert tasks["train_models"]["depends_on"] == [{"task_key": "create_data"}]
    assert tasks["inference"]["depends_on"] == [{"task_key": "train_models"}]
    declared = {p["name"] for p in job["parameters"]}
    for task in job["tasks"]:
        child = {p["name"] for p in config.load(ROOT, "dev").job(task["task_key"])["parameters"]}
        passed = task["run_job_task"]["job_parameters"]
        assert set(passed) <= child, task["task_key"]
        for value in passed.values():
            for name in re.findall(r"\{\{job\.parameters\.([a-z_]+)\}\}", value):
                assert name in declared


# Task kinds that start no code of the package: every other task needs the package's environment.
NO_CODE_TASKS = {"run_job_task", "condition_task"}


@pytest.mark.parametrize("target", sorted(_raw(ROOT / "databricks.yml")["targets"]))
def test_every_task_that_runs_code_installs_the_wheel_the_bundle_builds(target: str) -> None:
    # A serverless job environment overrides the notebook's own, so the task starts with the wheel
    # installed; deploy turns the glob into the path it uploads that wheel to (tests/test_databricks_cli.py).
    main = _raw(ROOT / "databricks.yml")
    [artifact] = main["artifacts"].values()
    assert artifact["type"] == "whl" and "--outdir dist" in artifact["build"]
    built = (ROOT / artifact["path"] / "dist").resolve()
    bundle = config.load(ROOT, target)
    for key, job in bundle.resources["jobs"].items():
        environments = {e["environment_key"]: e["spec"] for e in job.get("environments") or []}
        for task in job["tasks"]:
            name = f"{key}.{task['task_key']}"
            if NO_CODE_TASKS & set(task):
                assert "environment_key" not in task, name
                continue
            assert "notebook_task" in task, f"{name}: only notebook tasks run the package's code"
            spec = environments.get(task.get("environment_key"))
            assert spec, f"{name} names no environment of its job"
            [wheel] = spec["dependencies"]
            # The wheel's path is relative to databricks.yml, where task_environment is written.
            assert (ROOT / wheel).parent.resolve() == built and wheel.endswith("/*.whl"), name
            assert spec["environment_version"] == bundle.variables["task_environment"]["environment_version"]


INSTALL = re.compile(r"%pip|\bpip\b[^\n]*\binstall\b|run_line_magic\(\s*[\"']pip|restartPython")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_notebook_installs_the_package_itself(notebook: Path) -> None:
    # The job environment holds the deployed wheel; an install of `..` would put the source tree over it.
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            assert not INSTALL.search(source), f"{notebook.name} installs packages:\n{source}"
    databricks = nb["metadata"].get("application/vnd.databricks.v1+notebook") or {}
    assert not (databricks.get("environmentMetadata") or {}).get("dependencies"), notebook.name


def test_every_job_carries_target_and_commit_tags() -> None:
    for key, (job, _) in _jobs().items():
        assert job["tags"]["target"] == "${bundle.target}", key
        assert job["tags"]["git_commit"] == "${bundle.git.commit}", key
        assert job["email_notifications"]["on_failure"] == "${var.notification_emails}", key


def test_default_target_is_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUNDLE_VAR_catalog", raising=False)
    assert config.load(ROOT).target == "dev"


def test_unknown_job_is_an_error() -> None:
    with pytest.raises(BricksmlError, match="nope"):
        config.load(ROOT, "dev").job("nope")


# -- config.load on a temporary bundle ---------------------------------------------------------


def _write_bundle(root: Path, variables: dict, targets: dict, resources: dict | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    main = {
        "bundle": {"name": "tmpb"},
        "include": ["resources/*.yml"],
        "variables": variables,
        "targets": targets,
    }
    (root / "databricks.yml").write_text(yaml.safe_dump(main))
    (root / "resources").mkdir(exist_ok=True)
    resources = resources or {
        "jobs": {
            "j": {
                "name": "j-${bundle.target}",
                "parameters": [{"name": "root", "default": "${var.root}"}],
                "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "../n.ipynb"}}],
            }
        }
    }
    (root / "resources" / "j.yml").write_text(yaml.safe_dump({"resources": resources}))
    return root


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("cat", "sch", "root", "a", "b", "x"):
        monkeypatch.delenv(f"BUNDLE_VAR_{name}", raising=False)
    return monkeypatch


VARS = {
    "cat": {"default": "main"},
    "sch": {"default": "s"},
    "root": {"default": "/Volumes/${var.cat}/${var.sch}/data"},
}


def test_load_resolves_nested_variables_and_target_overrides(tmp_path: Path, clean_env) -> None:
    root = _write_bundle(
        tmp_path / "b",
        VARS,
        {
            "dev": {"default": True},
            "prod": {"variables": {"cat": "prodcat"}},
            "qa": {"variables": {"sch": {"default": "qa_s"}}},
        },
    )
    dev = config.load(root)
    assert dev.target == "dev"
    assert dev.variables["root"] == "/Volumes/main/s/data"
    assert dev.job("j")["name"] == "j-dev"
    assert dev.job("j")["parameters"][0]["default"] == "/Volumes/main/s/data"
    assert dev.job_file("j") == root / "resources" / "j.yml"

    prod = config.load(root, "prod")
    assert prod.variables["root"] == "/Volumes/prodcat/s/data"
    assert prod.job("j")["name"] == "j-prod"
    assert config.load(root, "qa").variables["root"] == "/Volumes/main/qa_s/data"

    clean_env.setenv("BUNDLE_VAR_cat", "envcat")
    assert config.load(root, "prod").variables["root"] == "/Volumes/envcat/s/data"
    assert config.load(root, "prod", {"cat": "cli"}).variables["root"] == "/Volumes/cli/s/data"


def test_target_resources_are_deep_merged(tmp_path: Path, clean_env) -> None:
    root = _write_bundle(
        tmp_path / "b",
        VARS,
        {"dev": {"default": True, "resources": {"jobs": {"j": {"max_concurrent_runs": 3}}}}},
    )
    job = config.load(root).job("j")
    assert job["max_concurrent_runs"] == 3
    assert job["tasks"][0]["task_key"] == "t"


def test_whole_string_reference_keeps_type(tmp_path: Path, clean_env) -> None:
    root = _write_bundle(
        tmp_path / "b",
        {"n": {"default": 5}},
        {"dev": {"default": True}},
        {"jobs": {"j": {"max_concurrent_runs": "${var.n}", "name": "x${var.n}"}}},
    )
    job = config.load(root).job("j")
    assert job["max_concurrent_runs"] == 5
    assert job["name"] == "x5"


def test_undefined_variable_is_an_error(tmp_path: Path, clean_env) -> None:
    root = _write_bundle(
        tmp_path / "b",
        VARS,
        {"dev": {"default": True}},
        {"jobs": {"j": {"name": "${var.missing}"}}},
    )
    with pytest.raises(BricksmlError, match="missing"):
        config.load(root)


def test_declared_variable_without_value_is_an_error(tmp_path: Path, clean_env) -> None:
    root = _write_bundle(
        tmp_path / "b",
        {"x": {"description": "no default"}},
        {"dev": {"default": True}},
        {"jobs": {"j": {"name": "${var.x}"}}},
    )
    with pytest.raises(BricksmlError, match="BUNDLE_VAR_x"):
        config.load(root)
    clean_env.setenv("BUNDLE_VAR_x", "given")
    assert config.load(root).job("j")["name"] == "given"


def test_unknown_target_is_an_error(tmp_path: Path, clean_env) -> None:
    root = _write_bundle(tmp_path / "b", VARS, {"dev": {"default": True}})
    with pytest.raises(BricksmlError, match="nope"):
        config.load(root, "nope")


def test_target_setting_undeclared_variable_is_an_error(tmp_path: Path, clean_env) -> None:
    root = _write_bundle(tmp_path / "b", VARS, {"dev": {"default": True, "variables": {"zz": "1"}}})
    with pytest.raises(BricksmlError, match="zz"):
        config.load(root)


def test_unknown_cli_variable_is_an_error(tmp_path: Path, clean_env) -> None:
    root = _write_bundle(tmp_path / "b", VARS, {"dev": {"default": True}})
    with pytest.raises(BricksmlError, match="zz"):
        config.load(root, None, {"zz": "1"})


def test_variable_cycle_is_an_error(tmp_path: Path, clean_env) -> None:
    root = _write_bundle(
        tmp_path / "b",
        {"a": {"default": "x${var.b}"}, "b": {"default": "y${var.a}"}},
        {"dev": {"default": True}},
        {"jobs": {"j": {"name": "${var.a}"}}},
    )
    with pytest.raises(BricksmlError, match="itself"):
        config.load(root)


def test_resource_declared_twice_is_an_error(tmp_path: Path, clean_env) -> None:
    root = _write_bundle(tmp_path / "b", VARS, {"dev": {"default": True}})
    (root / "resources" / "k.yml").write_text((root / "resources" / "j.yml").read_text())
    with pytest.raises(BricksmlError, match="twice"):
        config.load(root)


def test_invalid_yaml_is_an_error(tmp_path: Path, clean_env) -> None:
    root = _write_bundle(tmp_path / "b", VARS, {"dev": {"default": True}})
    (root / "resources" / "bad.yml").write_text("resources: [unclosed\n")
    with pytest.raises(BricksmlError, match="not valid YAML"):
        config.load(root)


def test_find_root(tmp_path: Path) -> None:
    root = _write_bundle(tmp_path / "b", VARS, {"dev": {"default": True}})
    (root / "deep" / "er").mkdir(parents=True)
    assert config.find_root(root / "deep" / "er") == root.resolve()
    with pytest.raises(BricksmlError, match=r"databricks\.yml"):
        config.find_root(tmp_path)


@pytest.mark.parametrize("target", ["staging", "prod"])
def test_shared_targets_run_as_the_service_principal_that_cd_provides(target: str) -> None:
    raw = _raw(ROOT / "databricks.yml")["targets"][target]
    assert raw["run_as"] == {"service_principal_name": "${var.service_principal}"}
    # In the deploying principal's home folder: not writable by all users, as /Workspace/Shared is.
    assert (
        raw["workspace"]["root_path"]
        == "/Workspace/Users/${var.service_principal}/.bundle/${bundle.name}/${bundle.target}"
    )
    managers = [p for p in raw["permissions"] if p["level"] == "CAN_MANAGE"]
    assert managers == [{"level": "CAN_MANAGE", "service_principal_name": "${var.service_principal}"}]
    cd = yaml.safe_load((ROOT / ".github" / "workflows" / "cd.yml").read_text())
    job = cd["jobs"][target]
    assert job["env"]["BUNDLE_VAR_service_principal"] == "${{ vars.DATABRICKS_CLIENT_ID }}"
    assert job["environment"] == target
    assert any(f"bundle deploy -t {target}" in step.get("run", "") for step in job["steps"])


def test_production_target_is_production_mode_and_dev_is_development() -> None:
    targets = _raw(ROOT / "databricks.yml")["targets"]
    assert targets["prod"]["mode"] == "production"
    assert targets["dev"]["mode"] == "development" and targets["dev"]["default"] is True
    assert _raw(ROOT / "databricks.yml")["presets"]["artifacts_dynamic_version"] is True


def test_the_workflows_install_the_cli_the_tests_run() -> None:
    """One CLI version: what scripts/databricks-cli.sh builds for the tests is what CI/CD deploy with."""
    script = (ROOT / "scripts" / "databricks-cli.sh").read_text()
    tested = re.search(r"DATABRICKS_CLI_VERSION:-([0-9.]+)\}", script).group(1)
    for name in ("ci.yml", "cd.yml"):
        workflow = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
        steps = [
            s for job in workflow["jobs"].values() for s in job["steps"] if "setup-cli" in s.get("uses", "")
        ]
        assert steps and all(str(s["with"]["version"]) == tested for s in steps), name
