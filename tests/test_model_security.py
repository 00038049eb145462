"""Loading a model never runs code it brings: whoever registers a version cannot decide what is trusted.

The hostile artifacts are built for real and registered: a pickle (and a cloudpickle) whose
unpickling writes a marker file and then hands back a working pipeline, and a skops file whose
MLmodel trusts ``pandas.to_pickle``, which its pipeline calls at predict time. ``bricksml infer``
refuses them with one line and exit 3 (the model artifact is the bad data), before any of them
is deserialized; ``--allow-unsafe-model-formats`` loads the pickle, and only the pickle.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import skops.io
import yaml
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from bricksml.cli.main import main
from bricksml.data import sample
from bricksml.errors import UnsafeModelError
from bricksml.models.pipeline import ModelSpec, build_pipeline
from bricksml.tracking import modelstore, setup

REFUSED = 3  # UnsafeModelError: a DataError
OK_MODEL = "main.bricksml.sec_ok"
REQUIREMENTS = ["scikit-learn", "skops"]  # pinned requirements are not what these tests are about


def _mark_and_return(marker: str, model: object) -> object:
    """What a hostile pickle runs when loaded: any code at all, then a model that works."""
    Path(marker).write_text("the artifact's code ran")
    return model


class _Payload:
    """Pickles as a call of :func:`_mark_and_return`: unpickling it runs that call."""

    def __init__(self, marker: Path, model: object) -> None:
        self.marker = str(marker)
        self.model = model

    def __reduce__(self) -> tuple:
        return (_mark_and_return, (self.marker, self.model))


@pytest.fixture(scope="module")
def hostile(workspace: Path) -> Iterator[dict]:
    """A legit model, the hostile ones, and a CSV to score, in a local MLflow store of their own."""
    root = workspace
    setup.configure()
    # Artifacts beside the SQLite store, as the jobs keep them (not ./mlruns in the working copy).
    experiment = setup.experiment_id("/Shared/bricksml/security-tests")
    data = sample.sentiment(300, 4)
    x, y = data[["Sentence"]], data["Sentiment"]
    spec = ModelSpec("logistic_regression", {}, {}, seed=0)
    pipeline = build_pipeline(spec, data, ["Sentence"], "Sentence")
    trusted = modelstore.trusted_types(pipeline, "logistic_regression")
    pipeline.fit(x, y)
    signature = infer_signature(x.head(), pipeline.predict(x.head()))
    markers = {kind: root / f"{kind}-ran.txt" for kind in ("pickle", "cloudpickle", "skops")}
    uris = {}
    with mlflow.start_run(experiment_id=experiment):
        ok = modelstore.log_and_register(pipeline, x, OK_MODEL, trusted, {})
        uris["ok"] = f"models:/{OK_MODEL}/{ok.version}"
        for fmt in ("pickle", "cloudpickle"):
            uris[fmt] = _register(
                f"main.bricksml.sec_{fmt}", _Payload(markers[fmt], pipeline), fmt, signature
            )
        # Writes its input to the marker file when it predicts (to_pickle(X, path)).
        leak = FunctionTransformer(pd.to_pickle, kw_args={"filepath_or_buffer": str(markers["skops"])})
        hostile_skops = Pipeline([("leak", leak), ("model", pipeline)])
        listed = skops.io.get_untrusted_types(data=skops.io.dumps(hostile_skops))
        assert "pandas.to_pickle" in listed
        uris["skops"] = _register("main.bricksml.sec_skops", hostile_skops, "skops", signature, listed)
    for marker in markers.values():  # logging may have loaded them: start from a clean slate
        marker.unlink(missing_ok=True)
    csv = root / "to_score.csv"
    sample.sentiment(40, 9)[["id", "Sentence"]].to_csv(csv, index=False)
    yield {"root": root, "uris": uris, "markers": markers, "csv": csv, "pipeline": pipeline}


def _register(name: str, model: object, fmt: str, signature, trusted: list[str] | None = None) -> str:
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        serialization_format=fmt,
        skops_trusted_types=trusted,
        signature=signature,
        pip_requirements=REQUIREMENTS,
    )
    version = mlflow.register_model(info.model_uri, name)
    return f"models:/{name}/{version.version}"


def _infer(hostile: dict, which: str, out: Path, *extra: str) -> int:
    argv = ["infer", "--model-uri", hostile["uris"][which], "--input-path", str(hostile["csv"])]
    return main([*argv, "--output-root", str(out), *extra])


def _nothing_written(out: Path) -> bool:
    return not out.exists() or not any(out.rglob("*"))


def test_a_bricksml_model_scores(hostile: dict, tmp_path: Path, capsys) -> None:
    code = _infer(hostile, "ok", tmp_path / "out")
    assert code == 0, capsys.readouterr().err
    assert len(list((tmp_path / "out").rglob("predictions.parquet"))) == 1


@pytest.mark.parametrize("fmt", ["pickle", "cloudpickle"])
def test_a_pickled_model_is_refused_and_its_code_never_runs(
    hostile: dict, tmp_path: Path, capsys, fmt: str
) -> None:
    out = tmp_path / "out"
    code = _infer(hostile, fmt, out)
    err = capsys.readouterr().err
    assert code == REFUSED, err
    assert len(err.strip().splitlines()) == 1, err
    assert f"stored as {fmt}" in err and "allow_unsafe_model_formats=true" in err
    assert not hostile["markers"][fmt].exists(), "loading ran the artifact's code"
    assert _nothing_written(out)


def test_the_explicit_permission_loads_a_pickled_model(hostile: dict, tmp_path: Path, capsys) -> None:
    marker = hostile["markers"]["pickle"]
    out = tmp_path / "out"
    try:
        code = _infer(hostile, "pickle", out, "--allow-unsafe-model-formats")
        assert code == 0, capsys.readouterr().err
        assert marker.exists(), "the permission did not load the pickle"
    finally:
        marker.unlink(missing_ok=True)
    predictions = pd.read_parquet(next(out.rglob("predictions.parquet")))
    frame = pd.read_csv(hostile["csv"])
    expected = hostile["pipeline"].predict(frame[["Sentence"]])
    assert predictions["prediction"].astype(str).tolist() == list(expected)


@pytest.mark.parametrize("permission", [[], ["--allow-unsafe-model-formats"]], ids=["default", "allowed"])
def test_a_skops_model_trusting_foreign_types_is_refused(
    hostile: dict, tmp_path: Path, capsys, permission: list[str]
) -> None:
    # The permission is for formats; what a skops file may hold is never the artifact's to say.
    out = tmp_path / "out"
    code = _infer(hostile, "skops", out, *permission)
    err = capsys.readouterr().err
    assert code == REFUSED, err
    assert len(err.strip().splitlines()) == 1, err
    assert "pandas.to_pickle" in err
    assert not hostile["markers"]["skops"].exists()
    assert _nothing_written(out)


def test_the_hostile_skops_model_really_runs_its_function_when_trusted_as_it_asks(hostile: dict) -> None:
    # The control: MLflow's own loader trusts the MLmodel's list, and predicting calls to_pickle.
    marker = hostile["markers"]["skops"]
    try:
        model = mlflow.sklearn.load_model(hostile["uris"]["skops"])
        with contextlib.suppress(Exception):  # to_pickle returns None: the next step fails after it
            model.predict_proba(pd.read_csv(hostile["csv"])[["Sentence"]])
        assert marker.exists()
    finally:
        marker.unlink(missing_ok=True)


def test_every_loader_shares_the_rule_and_names_its_own_permission(hostile: dict) -> None:
    # The gate, serving and the app load through modelstore.load too: refused unless they allow it.
    with pytest.raises(UnsafeModelError, match="set allow_pickled=true") as caught:
        modelstore.load(hostile["uris"]["pickle"], permission="allow_pickled")
    assert caught.value.exit_code == REFUSED
    with pytest.raises(UnsafeModelError, match=r"nothing here loads such a model\)$"):
        modelstore.load(hostile["uris"]["pickle"], permission=None)  # the gate: no way around it
    assert not hostile["markers"]["pickle"].exists()
    try:
        loaded = modelstore.load(hostile["uris"]["pickle"], allow_unsafe_formats=True)
        assert list(loaded.classes_) == list(hostile["pipeline"].classes_)
    finally:
        hostile["markers"]["pickle"].unlink(missing_ok=True)


def test_a_model_file_outside_the_artifact_is_refused(hostile: dict, tmp_path: Path) -> None:
    local = Path(mlflow.artifacts.download_artifacts(hostile["uris"]["ok"]))
    copy = tmp_path / "model"
    shutil.copytree(local, copy)
    mlmodel = yaml.safe_load((copy / "MLmodel").read_text())
    shutil.move(copy / mlmodel["flavors"]["sklearn"]["pickled_model"], tmp_path / "elsewhere.skops")
    mlmodel["flavors"]["sklearn"]["pickled_model"] = "../elsewhere.skops"
    (copy / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(UnsafeModelError, match="not in the artifact"):
        modelstore.load_local(copy, "the copy")
