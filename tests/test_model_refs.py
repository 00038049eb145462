"""Model references: one parser for the contract and the resolver; logged model ids on a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlflow import MlflowClient

from bricksml.errors import ParameterError, RegistryError
from bricksml.inference.model import resolve_ref
from bricksml.params import InferenceParams
from bricksml.params.inference import model_uri_check
from bricksml.tracking import model_refs, setup
from bricksml.tracking.model_refs import AliasRef, LoggedModelRef, RunRef, VersionRef

RUN = "0123456789abcdef0123456789abcdef"
MID = "m-" + "ab" * 16

ACCEPTED = [
    (f"runs:/{RUN}/model", RunRef(RUN, "model")),
    (f"runs:/{RUN}/nested/path", RunRef(RUN, "nested/path")),
    ("models:/main.bricksml.fs/3", VersionRef("main.bricksml.fs", "3")),
    ("models:/main.bricksml.fs@champion", AliasRef("main.bricksml.fs", "champion")),
    ("models:/local_model@my-alias_2", AliasRef("local_model", "my-alias_2")),
    (f"models:/{MID}", LoggedModelRef(MID)),
    # A registered model may be called m-something: a version number makes it one.
    (f"models:/{MID}/2", VersionRef(MID, "2")),
]

REFUSED = [
    "s3://bucket/model",
    "runs:/abc/model",  # not a run id
    f"runs:/{RUN}",  # no artifact path
    f"runs:/{RUN}/",
    "models:/main.bricksml.fs",  # neither a version, an alias nor an m- id
    "models:/main.bricksml.fs/latest",  # MLflow's stage-era shortcut; Unity Catalog has none
    "models:/main.bricksml.fs/1/2",
    "models:/main.bricksml.fs@",
    "models:/main.bricksml.fs@champ ion",
    "models:/m-",
    "models:/m-XYZ",
    f"models:/{MID} x",
    "",
]


@pytest.mark.parametrize(("uri", "ref"), ACCEPTED, ids=[u for u, _ in ACCEPTED])
def test_every_form_parses_to_its_reference_and_back(uri: str, ref: object) -> None:
    assert model_refs.parse(uri) == ref
    assert str(ref) == uri
    params = InferenceParams.parse({"model_uri": uri, "input_path": "x.csv"})
    assert params.model_uri == uri


@pytest.mark.parametrize("uri", REFUSED)
def test_the_contract_refuses_what_the_parser_refuses_and_says_the_forms(uri: str) -> None:
    with pytest.raises(ValueError, match="a model URI"):
        model_refs.parse(uri)
    if not uri:
        return  # empty is "not given" for the contract
    with pytest.raises(ParameterError) as caught:
        InferenceParams.parse({"model_uri": uri, "input_path": "x.csv"})
    assert caught.value.name == "model_uri"
    assert model_refs.FORMS in str(caught.value)


@given(st.text(alphabet="runsmodel:/@-_.0123456789abcdefXY ", max_size=60))
def test_check_and_parser_never_disagree(text: str) -> None:
    try:
        model_refs.parse(text)
        parsed = True
    except ValueError:
        parsed = False
    assert (model_refs.problem(text) is None) == parsed
    if text:
        assert (model_uri_check(text) is None) == parsed


# A store where logged models are made without training: resolving reads records, not artifacts.


@pytest.fixture(scope="module")
def store(workspace: Path) -> Iterator[dict]:
    setup.configure()
    client = MlflowClient()
    experiment = setup.experiment_id("/Shared/bricksml/refs")
    run = client.create_run(experiment).info.run_id

    def logged(run_id: str = run, ready: bool = True) -> str:
        model = client.create_logged_model(experiment, name="model", source_run_id=run_id)
        if ready:
            client.finalize_logged_model(model.model_id, "READY")
        return model.model_id

    yield {"client": client, "run": run, "logged": logged, "experiment": experiment}


def test_a_logged_model_id_resolves_to_its_registered_version(store: dict) -> None:
    model_id = store["logged"]()
    version = mlflow.register_model(f"models:/{model_id}", "main.refs.one")
    found = resolve_ref(LoggedModelRef(model_id))
    assert (found.model_name, found.version) == ("main.refs.one", str(version.version))
    assert found.model_uri == f"models:/main.refs.one/{version.version}"
    assert found.load_uri == found.model_uri
    assert found.run_id == store["run"]
    assert found.model_id == model_id
    assert found.asked == f"models:/{model_id}"


def test_the_same_model_through_its_version_carries_the_same_model_id(store: dict) -> None:
    model_id = store["logged"]()
    version = mlflow.register_model(f"models:/{model_id}", "main.refs.same")
    by_version = resolve_ref(VersionRef("main.refs.same", str(version.version)))
    by_id = resolve_ref(LoggedModelRef(model_id))
    assert by_version.model_id == model_id
    assert (by_id.model_name, by_id.version, by_id.model_id) == (
        by_version.model_name,
        by_version.version,
        by_version.model_id,
    )


def test_a_model_registered_twice_resolves_to_its_newest_version(store: dict) -> None:
    model_id = store["logged"]()
    mlflow.register_model(f"models:/{model_id}", "main.refs.first")
    second = mlflow.register_model(f"models:/{model_id}", "main.refs.second")
    found = resolve_ref(LoggedModelRef(model_id))
    assert (found.model_name, found.version) == ("main.refs.second", str(second.version))


def test_without_mlflows_version_tag_the_runs_versions_are_searched(store: dict) -> None:
    model_id = store["logged"]()
    other = store["logged"]()  # same run, another model: its version must not be taken
    mlflow.register_model(f"models:/{other}", "main.refs.other")
    version = mlflow.register_model(f"models:/{model_id}", "main.refs.untagged")
    store["client"].delete_logged_model_tag(model_id, "mlflow.modelVersions")
    found = resolve_ref(LoggedModelRef(model_id))
    assert (found.model_name, found.version) == ("main.refs.untagged", str(version.version))


def test_an_unregistered_logged_model_resolves_to_itself_and_its_run(store: dict) -> None:
    model_id = store["logged"]()
    found = resolve_ref(
        *InferenceParams.parse({"model_uri": f"models:/{model_id}", "input_path": "x.csv"}).model_ref()
    )
    assert (found.model_name, found.version) == ("", "")
    assert found.model_uri == found.load_uri == f"models:/{model_id}"
    assert found.run_id == store["run"]
    assert str(found.output_folder) == model_id
    assert found.label == model_id


def test_an_unknown_logged_model_names_what_was_asked_and_what_exists(store: dict) -> None:
    asked = "models:/m-" + "0" * 32
    with pytest.raises(RegistryError) as caught:
        resolve_ref(*InferenceParams.parse({"model_uri": asked, "input_path": "x.csv"}).model_ref())
    message = str(caught.value)
    assert message.startswith(f"{asked}: no such logged model in this tracking store; ")
    assert "latest registered versions: main.refs." in message and "(models:/m-" in message
    assert "\n" not in message
    assert caught.value.exit_code == 2  # as every other unknown model


def test_a_logged_model_that_never_finished_is_refused(store: dict) -> None:
    model_id = store["logged"](ready=False)
    with pytest.raises(RegistryError, match=rf"models:/{model_id}: the logged model is PENDING, not READY"):
        resolve_ref(LoggedModelRef(model_id))
