"""The deploy task and `bricksml rollback` against a fake of Databricks' serving-endpoints API.

Three versions promoted by the gate in turn (so each records the champion before it); the endpoint
is created, left alone when there is no new champion, updated, fails an update (the previous
version keeps serving), follows a rollback, and the deploy notebook runs the same step locally.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import nbformat
import pytest
from databricks.sdk import WorkspaceClient
from nbclient import NotebookClient

from bricksml import runtime
from bricksml.cli.main import main
from bricksml.data import sample
from bricksml.errors import ParameterError
from bricksml.jobs.deploy import deploy_champion
from bricksml.jobs.train_models import train_models
from bricksml.jobs.validate_model import validate_model
from bricksml.params import TrainParams
from bricksml.params.deploy import DeployParams
from bricksml.serving import endpoints, request_log
from bricksml.tracking import registry
from tests.fake_serving import FakeServing
from tests.helpers import SENTIMENT, make_version

pytestmark = pytest.mark.xdist_group("serving_deploy")

ROOT = Path(__file__).resolve().parents[1]
MODEL = "main.bricksml.fs"
ENDPOINT = "bricksml-fs"
PARAMS = {
    "serving_workload_size": "Medium",
    "serving_scale_to_zero": "false",
    "serving_query_group": "data-scientists",
    "request_log_schema": "main.bricksml",
}


@pytest.fixture(scope="module")
def versions(workspace: Path) -> list[str]:
    """Three versions, each promoted by the gate over the one before (any drop allowed here).

    One training; versions 2 and 3 register the same logged model again, which the gate then judges
    like any other version: what these tests follow is the champion, not what it predicts.
    """
    make_version(workspace, "fs", sample.sentiment(400, 3), SENTIMENT)
    params = TrainParams.parse(
        {
            "data_name": "fs",
            "data_version": "v1",
            "model_type": "naive_bayes",
            "gate_max_drop": "1.0",
            "gate_min_f1": "0.0",
            "gate_baseline_margin": "0.0",
        }
    )
    trained = train_models(params)
    numbers = [trained.model_version]
    first = registry.version(MODEL, trained.model_version)
    for _ in range(2):
        again = registry.client().create_model_version(
            MODEL, first.source, first.run_id, tags=dict(first.tags)
        )
        numbers.append(str(again.version))
    for number in numbers:
        assert validate_model(params, number).decision == "promoted"
    assert numbers == ["1", "2", "3"]
    assert registry.version(MODEL, "3").tags[registry.GATE_RECORD].count('"champion_version": "2"') == 1
    registry.set_alias(MODEL, registry.CHAMPION, "2")  # as if v3 were not promoted yet
    return numbers


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeServing]:
    api = FakeServing(steps=2)
    api.host = api.start()
    yield api
    api.stop()


@pytest.fixture
def client(fake: FakeServing) -> WorkspaceClient:
    return WorkspaceClient(host=fake.host, token=fake.token)


def _deploy(client: WorkspaceClient, decision: str | None, **extra: str):
    return deploy_champion(
        MODEL, DeployParams.parse({**PARAMS, **extra}), gate_decision=decision, client=client, poll_seconds=0
    )


def test_a_new_champion_creates_the_endpoint_with_its_inference_table_and_query_grant(
    versions: list[str], fake: FakeServing, client: WorkspaceClient
) -> None:
    result = _deploy(client, "promoted")
    assert (result.action, result.where, result.champion_version) == ("created", "databricks", "2")
    assert result.message == f"the gate made v2 champion: created serving endpoint {ENDPOINT}, serving v2"
    [created] = fake.calls("POST", "/api/2.0/serving-endpoints")
    assert created["name"] == ENDPOINT
    assert created["config"]["served_entities"] == [
        {
            "name": "fs-2",
            "entity_name": MODEL,
            "entity_version": "2",
            "workload_size": "Medium",
            "scale_to_zero_enabled": False,
        }
    ]
    assert created["ai_gateway"]["inference_table_config"] == {
        "catalog_name": "main",
        "schema_name": "bricksml",
        "table_name_prefix": "bricksml_fs",
        "enabled": True,
    }
    assert result.request_log_table == request_log.table_name("main", "bricksml", ENDPOINT)
    assert result.request_log_table == "main.bricksml.bricksml_fs_payload"
    assert fake.served(ENDPOINT) == [(MODEL, "2")]
    assert fake.endpoints[ENDPOINT].ready == "READY"
    assert len(fake.calls("GET", f"/api/2.0/serving-endpoints/{ENDPOINT}")) >= 2  # it waited
    assert fake.endpoints[ENDPOINT].acl == {"data-scientists": "CAN_QUERY"}
    assert result.permissions == ["group data-scientists can query (granted)"]
    assert fake.unknown == []


def test_no_new_champion_changes_nothing_and_says_so(
    versions: list[str], fake: FakeServing, client: WorkspaceClient
) -> None:
    before = len(fake.requests)
    result = _deploy(client, "rejected")
    assert result.action == "unchanged"
    assert (
        result.message
        == f"no new champion (gate: rejected): endpoint {ENDPOINT} already serves v2, nothing to deploy"
    )
    writes = [(m, p) for m, p, _ in fake.requests[before:] if m != "GET"]
    assert writes == [], "nothing but reads when the endpoint already serves the champion"
    assert result.permissions == ["group data-scientists can query (already)"]


def test_a_failed_update_fails_the_step_and_the_previous_version_keeps_serving(
    versions: list[str], fake: FakeServing, client: WorkspaceClient
) -> None:
    registry.set_alias(MODEL, registry.CHAMPION, "3")
    fake.failing = {"3"}
    with pytest.raises(endpoints.DeployError) as failed:
        _deploy(client, "promoted")
    message = str(failed.value)
    assert "\n" not in message
    assert f"serving endpoint {ENDPOINT}: the update to {MODEL} v3 ended update failed" in message
    assert "Container image build failed" in message and "v2 is still serving" in message
    assert fake.served(ENDPOINT) == [(MODEL, "2")]
    assert failed.value.exit_code == 8


def test_the_next_run_deploys_the_champion_the_failed_update_left_behind(
    versions: list[str], fake: FakeServing, client: WorkspaceClient
) -> None:
    fake.failing = set()
    result = _deploy(client, "rejected")
    assert (result.action, result.previous_version) == ("updated", "2")
    assert result.message == f"no new champion (gate: rejected): endpoint {ENDPOINT} now serves v3 (was 2)"
    update = fake.calls("PUT", f"/api/2.0/serving-endpoints/{ENDPOINT}/config")[-1]
    assert update["served_entities"][0] | {} == {
        "name": "fs-3",
        "entity_name": MODEL,
        "entity_version": "3",
        "workload_size": "Medium",
        "scale_to_zero_enabled": False,
    }
    assert update["traffic_config"] == {"routes": [{"served_entity_name": "fs-3", "traffic_percentage": 100}]}
    assert fake.served(ENDPOINT) == [(MODEL, "3")]


def test_an_update_in_progress_elsewhere_is_waited_for(fake: FakeServing, client: WorkspaceClient) -> None:
    endpoint = fake.endpoints[ENDPOINT]
    endpoint.update, endpoint.steps_left = "IN_PROGRESS", 2
    endpoint.pending = {"served_entities": endpoint.config["served_entities"], "config_version": 9}
    spec = endpoints.EndpointSpec(ENDPOINT, MODEL, "3")
    assert endpoints.ensure(client, spec, poll=0).action == "unchanged"
    assert endpoint.update == "NOT_UPDATING"


@pytest.fixture
def databricks_env(fake: FakeServing, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("DATABRICKS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_HOST", fake.host)
    monkeypatch.setenv("DATABRICKS_TOKEN", fake.token)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "none.cfg"))


def _cli(capsys, *args: str) -> tuple[int, dict, list[str]]:
    code = main([*args, "--output", "json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err.strip().splitlines()


def test_rollback_moves_champion_to_the_previous_one_and_the_endpoint_follows(
    versions: list[str], fake: FakeServing, databricks_env: None, capsys
) -> None:
    code, out, _ = _cli(capsys, "rollback", "--model-name", MODEL, "--endpoint", ENDPOINT, "--poll", "0")
    assert code == 0, out
    data = out["data"]
    assert (data["from_version"], data["to_version"], data["chosen"]) == ("3", "2", "previous champion")
    assert registry.aliases(MODEL)["champion"] == "2"
    for number in ("2", "3"):
        record = json.loads(registry.version(MODEL, number).tags["rollback_record"])
        assert (record["from_version"], record["to_version"], record["state"]) == ("3", "2", "done")
    assert data["endpoint"]["action"] == "updated" and data["endpoint"]["previous_version"] == "3"
    assert fake.served(ENDPOINT) == [(MODEL, "2")]
    # The rollback keeps the endpoint's own compute; it only moves the version.
    assert (
        fake.calls("PUT", f"/api/2.0/serving-endpoints/{ENDPOINT}/config")[-1]["served_entities"][0][
            "workload_size"
        ]
        == "Medium"
    )


def test_a_rollback_whose_endpoint_update_fails_says_what_still_serves(
    versions: list[str], fake: FakeServing, databricks_env: None, capsys
) -> None:
    fake.failing = {"1"}
    code, _, err = _cli(capsys, "rollback", "--model-name", MODEL, "--endpoint", ENDPOINT, "--poll", "0")
    fake.failing = set()
    assert code == 8 and len(err) == 1
    assert "v1 ended update failed" in err[0] and "v2 is still serving" in err[0]
    assert registry.aliases(MODEL)["champion"] == "1"  # the registry moved; the endpoint did not
    assert fake.served(ENDPOINT) == [(MODEL, "2")]


def test_rollback_refusals_are_one_line(versions: list[str], capsys) -> None:
    code, _, err = _cli(capsys, "rollback", "--model-name", MODEL)
    assert code == 2 and len(err) == 1
    assert "champion v1 has no previous champion on record" in err[0] and "--to-version" in err[0]
    code, _, err = _cli(capsys, "rollback", "--model-name", MODEL, "--to-version", "9")
    assert code == 2 and len(err) == 1 and "has no version 9" in err[0] and "1, 2, 3" in err[0]
    code, _, err = _cli(capsys, "rollback", "--model-name", MODEL, "--to-version", "v2")
    assert code == 2 and err == ["error: --to-version 'v2': a version number such as 3"]
    code, _, err = _cli(capsys, "rollback", "--model-name", "main.bricksml.none")
    assert code == 2 and "has no champion" in err[0]
    code, out, _ = _cli(capsys, "rollback", "--model-name", MODEL, "--to-version", "1")
    assert code == 0 and out["data"]["moved"] is False


def test_locally_the_step_has_nothing_to_create_and_says_so(versions: list[str], fake: FakeServing) -> None:
    before = len(fake.requests)
    result = deploy_champion(MODEL, DeployParams.parse({}), gate_decision="promoted")
    assert (result.action, result.where) == ("local", "local")
    assert "locally there is no endpoint to create" in result.message
    assert (
        f"bricksml serve --model-name {MODEL}" in result.message
        and result.request_log_table in result.message
    )
    assert len(fake.requests) == before


def test_a_model_without_champion_has_nothing_to_serve(client: WorkspaceClient, workspace: Path) -> None:
    result = deploy_champion(
        "main.bricksml.none", DeployParams.parse({}), gate_decision="rejected", client=client
    )
    assert result.action == "nothing" and "has no champion" in result.message


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"serving_endpoint": "ep-{data_name}"}, "serving_endpoint"),
        ({"serving_endpoint": "no spaces"}, "serving_endpoint"),
        ({"serving_workload_size": "Huge"}, "serving_workload_size"),
        ({"serving_scale_to_zero": "maybe"}, "serving_scale_to_zero"),
        ({"serving_timeout_minutes": "0"}, "serving_timeout_minutes"),
        ({"request_log_schema": "main"}, "request_log_schema"),
    ],
)
def test_bad_deploy_parameters_are_refused_by_name(values: dict, named: str) -> None:
    with pytest.raises(ParameterError) as refused:
        DeployParams.parse(values)
    assert refused.value.name == named


def test_an_endpoint_name_too_long_for_a_model_is_refused() -> None:
    params = DeployParams.parse({"serving_endpoint": "x" * 50 + "-{model}"})
    with pytest.raises(ParameterError, match="serving_endpoint"):
        params.endpoint_for("main.bricksml." + "m" * 20)


def test_the_follower_keeps_serving_when_the_new_champion_cannot_load(
    versions: list[str], tmp_path: Path
) -> None:
    from bricksml.inference.model import resolve_ref
    from bricksml.serving import served
    from bricksml.serving.follower import AliasFollower, Holder
    from bricksml.tracking.model_refs import VersionRef

    holder = Holder(served.load(resolve_ref(VersionRef(MODEL, "2"))))
    follower = AliasFollower(holder, MODEL, "follow_test", poll_seconds=60)
    registry.set_alias(MODEL, "follow_test", "2")
    follower.check()
    assert holder.model.version == "2" and follower.error is None
    (tmp_path / "not_a_model").mkdir()
    broken = mlflow.register_model((tmp_path / "not_a_model").as_uri(), MODEL)
    registry.set_alias(MODEL, "follow_test", broken.version)
    follower.check()
    assert holder.model.version == "2" and follower.swaps == []
    assert (
        follower.error.startswith(f"v{broken.version} did not load") and "still serving v2" in follower.error
    )
    registry.set_alias(MODEL, "follow_test", "3")
    follower.check()
    assert holder.model.version == "3" and follower.error is None and len(follower.swaps) == 1


@pytest.mark.slow
def test_the_deploy_notebook_runs_the_step_with_the_jobs_parameters(
    versions: list[str], workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = nbformat.read(ROOT / "notebooks" / "deploy.ipynb", as_version=4)
    run_dir = tmp_path / "run"
    (run_dir / "task_values").mkdir(parents=True)
    (run_dir / "task_values" / "validate.json").write_text(json.dumps({"gate_decision": "promoted"}))
    parameters = {"data_name": "fs", "data_version": "v1", "serving_endpoint": "team-{model}"}
    monkeypatch.setenv(runtime.INJECTED_PARAMETERS_ENV, json.dumps(parameters))
    monkeypatch.setenv(runtime.RUN_DIR_ENV, str(run_dir))
    monkeypatch.setenv(runtime.TASK_KEY_ENV, "deploy")
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    result = json.loads((run_dir / "deploy.result.json").read_text())
    assert (result["action"], result["endpoint"], result["gate_decision"]) == ("local", "team-fs", "promoted")
    assert result["request_log_table"] == "main.bricksml.team_fs_payload"
