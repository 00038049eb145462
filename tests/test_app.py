"""The app's pages through Streamlit's own harness: predictions, a scored file, every bad input a message."""

from __future__ import annotations

import functools
import io
import json
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
import uvicorn
from streamlit.components.v2 import manifest_scanner
from streamlit.testing.v1 import AppTest

from bricksml import layout
from bricksml.app import scoring, settings
from bricksml.app.settings import AppSettings
from bricksml.app.views import score as score_view
from bricksml.cli.commands.app import SCRIPT
from bricksml.cli.main import main
from bricksml.data import sample
from bricksml.jobs.train_models import train_models
from bricksml.jobs.validate_model import validate_model
from bricksml.params import TrainParams
from bricksml.tracking import modelstore, registry, setup
from bricksml.tracking.registry import CHAMPION
from tests.helpers import CUSTOMERS, SENTIMENT, make_version

pytestmark = pytest.mark.xdist_group("app")

TEXT = "main.bricksml.app_text"
TABULAR = "main.bricksml.app_tabular"
REGRESSOR = "main.bricksml.app_basket"
#: The customers table with the basket size as the label: a regression (task auto).
BASKET = {"label_col": "avg_basket", "id_col": "customer_id"}
DATA = Path("Volumes/main/bricksml/data")
ENDPOINT = "sentiment"
SENTENCE = "Operating profit rose sharply and the company raised its outlook for the full year"


@pytest.fixture(scope="module", autouse=True)
def _components_scanned_once() -> Iterator[None]:
    """Each new AppTest scans every installed package for Streamlit components (~1.3 s); the
    packages do not change while the module runs, so the first scan serves them all."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            manifest_scanner,
            "scan_component_manifests",
            functools.cache(manifest_scanner.scan_component_manifests),
        )
        yield


def _start(mp: pytest.MonkeyPatch, page: str = "Predict", **values: str) -> AppTest:
    """An AppTest of the real script with these settings, as `bricksml app` passes them."""
    for name in [v for v in vars(settings).values() if isinstance(v, str) and v.startswith(settings.PREFIX)]:
        mp.delenv(name, raising=False)
    for key, value in AppSettings(**values).to_env().items():
        mp.setenv(key, value)
    at = AppTest.from_file(str(SCRIPT), default_timeout=60)
    at.query_params["page"] = page  # a link to the page, as ?page=... in the address
    return at.run()


@pytest.fixture(scope="module")
def trained(workspace: Path) -> Iterator[dict]:
    """A text and a tabular classifier and a regressor, trained once: the text one made champion by
    the gate, the others by setting their alias.

    Before them, the app is opened on the empty registry of the same store (a store of its own
    would cost its own database).
    """
    with pytest.MonkeyPatch.context() as mp:
        empty = _start(mp)
    customers = sample.customers(600, 3)
    for name, frame, roles, model in (
        ("app_fs", sample.sentiment(600, 3), SENTIMENT, TEXT),
        ("app_cu", customers, CUSTOMERS, TABULAR),
        ("app_basket", customers.drop(columns="customer_segment"), BASKET, REGRESSOR),
    ):
        make_version(workspace, name, frame, roles)
        params = TrainParams.parse({"data_name": name, "data_version": "v1", "model_name": model})
        version = train_models(params).model_version
        if model == TEXT:  # the gate's record, for the Models page
            validate_model(params, version)
        else:
            registry.set_alias(model, CHAMPION, version)
    yield {
        "empty_registry": empty,
        "text_holdout": pd.read_parquet(workspace / DATA / "app_fs/v1/holdout.parquet"),
        "tabular_train": pd.read_parquet(workspace / DATA / "app_cu/v1/train.parquet"),
        "tabular_holdout": pd.read_parquet(workspace / DATA / "app_cu/v1/holdout.parquet"),
        "basket_holdout": pd.read_parquet(workspace / DATA / "app_basket/v1/holdout.parquet"),
    }


@pytest.fixture
def app(trained: dict, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """:func:`_start` with this test's environment, undone afterwards."""
    return functools.partial(_start, monkeypatch)


@pytest.fixture(scope="module")
def endpoint(trained: dict) -> Iterator[str]:
    """The text champion behind the serving app on a real uvicorn server (in a thread): its URL."""
    from bricksml.inference.model import resolve_ref
    from bricksml.serving import served
    from bricksml.serving.app import Limits, create_app
    from bricksml.serving.follower import Holder
    from bricksml.tracking.model_refs import AliasRef

    holder = Holder(served.load(resolve_ref(AliasRef(TEXT, CHAMPION))))
    config = uvicorn.Config(create_app(holder, ENDPOINT, Limits()), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


class _FilesApi(BaseHTTPRequestHandler):
    """The workspace's Files API over a folder, as Databricks answers it (errors as its JSON)."""

    root: Path
    seen: list[str]

    def log_message(self, *args: object) -> None:
        self.seen.append(f"{self.command} {urllib.parse.urlsplit(self.path).path}")

    def _local(self, prefix: str) -> Path:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path.removeprefix(prefix))
        return self.root / path.lstrip("/")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        self._send(status, json.dumps({"error_code": code, "message": message}).encode(), "application/json")

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/api/2.0/fs/files/"):
            local = self._local("/api/2.0/fs/files")
            if not local.is_file():
                return self._error(404, "NOT_FOUND", f"The file {path} does not exist")
            return self._send(200, local.read_bytes(), "application/octet-stream")
        if path.startswith("/api/2.0/fs/directories/"):
            local = self._local("/api/2.0/fs/directories")
            if not local.is_dir():
                return self._error(404, "NOT_FOUND", f"The directory {path} does not exist")
            contents = [
                {"path": f"/{c.relative_to(self.root)}", "name": c.name, "is_directory": c.is_dir()}
                for c in sorted(local.iterdir())
            ]
            return self._send(200, json.dumps({"contents": contents}).encode(), "application/json")
        return self._error(404, "ENDPOINT_NOT_FOUND", f"No API found for 'GET {path}'")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        self._error(
            404, "ENDPOINT_NOT_FOUND", f"No API found for 'POST {urllib.parse.urlsplit(self.path).path}'"
        )


def _run_metric(name: str, key: str) -> float:
    setup.configure()
    version = registry.version_by_alias(name, CHAMPION)
    return registry.client().get_run(version.run_id).data.metrics[key]


def _model(name: str):
    setup.configure()
    return modelstore.load(f"models:/{name}@champion")


def _errors(at: AppTest) -> list[str]:
    assert not at.exception, [e.value for e in at.exception]
    return [e.value for e in at.error]


def test_a_sentence_gets_its_label_probabilities_and_the_words_that_drove_it(app) -> None:
    at = app(model_name=TEXT)
    assert _errors(at) == []
    at.text_area[0].input(SENTENCE)
    at.button[0].click().run()
    assert _errors(at) == []
    expected = _model(TEXT).predict(pd.DataFrame({"Sentence": [SENTENCE]}))[0]
    assert at.metric[0].label == "Prediction" and at.metric[0].value == expected
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2, "a probabilities chart and a drivers chart"
    assert any("contribution" in m.value for m in at.markdown), [m.value for m in at.markdown]
    assert any(f"{TEXT} v1, loaded by the app" in c.value for c in at.caption)


def test_an_empty_sentence_is_a_message(app) -> None:
    at = app(model_name=TEXT)
    at.text_area[0].input("   ")
    at.button[0].click().run()
    assert _errors(at) == ["the Sentence is empty: type a sentence to predict its label"]
    assert not at.metric


def test_a_tabular_model_gets_a_form_from_its_signature_with_the_training_values(app, trained: dict) -> None:
    at = app(model_name=TABULAR)
    assert _errors(at) == []
    train = trained["tabular_train"]
    inputs = {w.label: w for w in at.number_input}
    assert set(inputs) == {"age", "annual_income", "tenure_months", "purchases", "avg_basket"}
    assert inputs["age"].value == pytest.approx(train["age"].median())
    assert f"{train['age'].min():g} to {train['age'].max():g}" in inputs["age"].help
    boxes = {w.label: w for w in at.selectbox if w.label != "Model"}
    assert set(boxes) == {"gender", "region", "channel"}
    assert list(boxes["region"].options) == sorted(train["region"].unique())
    boxes["channel"].select("app")
    inputs["purchases"].set_value(25)
    at.button[0].click().run()
    assert _errors(at) == []
    row = {name: [w.value] for name, w in inputs.items()} | {name: [w.value] for name, w in boxes.items()}
    expected = _model(TABULAR).predict(pd.DataFrame(row))[0]
    assert at.metric[0].value == expected


def test_a_regressor_answers_a_number_with_its_typical_error(app) -> None:
    at = app(model_name=REGRESSOR)
    assert _errors(at) == []
    inputs = {w.label: w for w in at.number_input}
    assert "avg_basket" not in inputs and "age" in inputs
    at.button[0].click().run()
    assert _errors(at) == []
    row = {name: [w.value] for name, w in inputs.items()}
    row |= {w.label: [w.value] for w in at.selectbox if w.label != "Model"}
    expected = float(_model(REGRESSOR).predict(pd.DataFrame(row))[0])
    assert float(at.metric[0].value.replace(",", "")) == pytest.approx(expected, rel=1e-3)
    error = _run_metric(REGRESSOR, "holdout_mae")
    shown = f"Typical error: ± {error:,.4g} (MAE on the holdout split, when this version was trained)"
    assert shown in [c.value for c in at.caption]
    assert len(at.get("vega_lite_chart")) == 1, "no probabilities; the drivers of a linear regressor"


def test_a_file_is_scored_in_chunks_shown_and_offered_for_download(
    app, trained: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring, "CHUNK_ROWS", 25)  # several chunks from a small file
    holdout = trained["text_holdout"]
    at = app("Score a file", model_name=TEXT)
    at.file_uploader[0].set_value(("news.csv", holdout.to_csv(index=False).encode(), "text/csv")).run()
    assert _errors(at) == []
    assert at.success[0].value.startswith(f"{len(holdout)} rows of news.csv scored by {TEXT} v1")
    shown = at.dataframe[0].value
    assert list(shown.columns[:3]) == ["id", "Sentence", "Sentiment"] and "prediction" in shown
    expected = _model(TEXT).predict(holdout[["Sentence"]].head(len(shown)))
    assert shown["prediction"].tolist() == list(expected)
    assert at.download_button[0].label == "Download the predictions (CSV)"
    _, _, data = at.session_state[score_view.SCORED]  # what the button hands the browser
    downloaded = pd.read_csv(io.BytesIO(data))
    assert len(downloaded) == len(holdout) and downloaded["id"].tolist() == holdout["id"].tolist()
    assert downloaded["prediction"].tolist() == list(_model(TEXT).predict(holdout[["Sentence"]]))


def test_a_parquet_file_is_scored_for_a_tabular_model(app, trained: dict) -> None:
    holdout = trained["tabular_holdout"]
    buffer = io.BytesIO()
    holdout.to_parquet(buffer)
    at = app("Score a file", model_name=TABULAR)
    at.file_uploader[0].set_value(("customers.parquet", buffer.getvalue(), "application/octet-stream")).run()
    assert _errors(at) == []
    shown = at.dataframe[0].value
    features = [c for c in holdout.columns if c not in ("customer_id", "customer_segment")]
    assert shown["prediction"].tolist() == list(_model(TABULAR).predict(holdout[features].head(len(shown))))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("other.csv", b"foo,bar\n1,2\n", "file 'other.csv' lacks the model's column(s) ['Sentence']"),
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00", "'photo.png' is not a table the app reads"),
        (
            "broken.parquet",
            b"PAR1 this is no parquet",
            "input file 'broken.parquet' could not be read as parquet",
        ),
        ("empty.csv", b"", "'empty.csv' is empty"),
        ("header_only.csv", b"id,Sentence\n", "file 'header_only.csv' has no rows to score"),
    ],
    ids=["without-the-model-columns", "not-a-table", "corrupt-parquet", "empty", "no-rows"],
)
def test_a_file_the_model_cannot_score_is_a_message(app, name: str, data: bytes, message: str) -> None:
    at = app("Score a file", model_name=TEXT)
    at.file_uploader[0].set_value((name, data, "application/octet-stream")).run()
    errors = _errors(at)
    assert len(errors) == 1 and errors[0].startswith(message), errors
    assert not at.dataframe and not at.download_button


def test_a_model_that_is_not_registered_is_a_message(app) -> None:
    at = app(model_name="main.bricksml.not_trained")
    errors = _errors(at)
    assert len(errors) == 1
    assert errors[0].startswith("model main.bricksml.not_trained has no @champion version to show")
    assert TEXT in errors[0], "the message lists the models that exist"


def test_an_empty_registry_says_to_train_first(trained: dict) -> None:
    assert _errors(trained["empty_registry"]) == [
        "no model is registered yet: train one first (`bricksml run train_models`, or the train_models job)"
    ]


def test_an_endpoint_that_does_not_answer_is_a_message(app) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    at = app(model_name=TEXT, serving_url=f"http://127.0.0.1:{port}", serving_endpoint="sentiment")
    at.text_area[0].input(SENTENCE)
    at.button[0].click().run()
    errors = _errors(at)
    assert len(errors) == 1 and errors[0].startswith("the serving endpoint 'sentiment' at http://127.0.0.1:")
    assert "start it with `bricksml serve`" in errors[0]


def test_with_an_endpoint_the_endpoint_answers_and_the_pages_say_which_version_it_serves(
    app, endpoint: str
) -> None:
    at = app(model_name=TEXT, serving_url=endpoint, serving_endpoint=ENDPOINT)
    at.text_area[0].input(SENTENCE)
    at.button[0].click().run()
    assert _errors(at) == []
    assert at.metric[0].value == _model(TEXT).predict(pd.DataFrame({"Sentence": [SENTENCE]}))[0]
    assert len(at.get("vega_lite_chart")) == 2, "the endpoint's probabilities, and the drivers"
    assert any(c.value == f"Answered by endpoint {ENDPOINT} (v1)" for c in at.caption)
    at = app("Models", model_name=TEXT, serving_url=endpoint, serving_endpoint=ENDPOINT)
    assert at.info[0].value == f"Serving endpoint {ENDPOINT} ({endpoint}) serves v1."


def test_with_an_endpoint_a_file_is_scored_by_it_in_chunks(
    app, endpoint: str, trained: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring, "CHUNK_ROWS", 40)
    holdout = trained["text_holdout"]
    at = app("Score a file", model_name=TEXT, serving_url=endpoint, serving_endpoint=ENDPOINT)
    at.file_uploader[0].set_value(("news.csv", holdout.to_csv(index=False).encode(), "text/csv")).run()
    assert _errors(at) == []
    assert at.success[0].value == f"{len(holdout)} rows of news.csv scored by endpoint {ENDPOINT} (v1)"
    shown = at.dataframe[0].value
    assert shown["prediction"].tolist() == list(_model(TEXT).predict(holdout[["Sentence"]].head(len(shown))))
    probabilities = shown.filter(like="probability_")
    assert sorted(probabilities.columns) == [
        "probability_negative",
        "probability_neutral",
        "probability_positive",
    ]
    assert probabilities.sum(axis=1).round(6).eq(1).all()


def test_in_a_databricks_app_the_endpoint_is_queried_through_the_sdk(
    app, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No URL, only the endpoint's name (as the app resource gives it): the SDK's query, here sent
    to the local server that speaks the same REST contract."""
    monkeypatch.setenv("DATABRICKS_HOST", endpoint)
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-app")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", os.devnull)
    at = app(model_name=TEXT, serving_endpoint=ENDPOINT)
    at.text_area[0].input(SENTENCE)
    at.button[0].click().run()
    assert _errors(at) == []
    assert at.metric[0].value == _model(TEXT).predict(pd.DataFrame({"Sentence": [SENTENCE]}))[0]
    assert any(c.value == f"Answered by endpoint {ENDPOINT}" for c in at.caption)
    assert any("class only" in c.value for c in at.caption), "Databricks answers without probabilities"


def test_an_endpoint_that_refuses_the_rows_is_a_message(app, endpoint: str) -> None:
    at = app(model_name=TEXT, serving_url=endpoint, serving_endpoint="another-endpoint")
    at.text_area[0].input(SENTENCE)
    at.button[0].click().run()
    errors = _errors(at)
    assert len(errors) == 1
    assert errors[0].startswith(
        "the serving endpoint 'another-endpoint' refused the request (HTTP 404): no endpoint"
    )


def test_in_a_databricks_app_the_volumes_are_read_through_the_files_api(
    app, trained: dict, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app resource's settings: the mirror rooted at /, the volumes through the Files API."""
    output = AppSettings().output_location(TEXT, "app_fs", "v1")
    folder = layout.monitoring_dir(output, f"{TEXT}/v1", "20260103T000000Z")
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"decision": "ok", "window": {"rows": 10}, "plots": {}}))
    handler = type("Handler", (_FilesApi,), {"root": workspace, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", setup.configure())
    monkeypatch.setenv("BRICKSML_LOCAL_ROOT", "/")
    monkeypatch.setenv("DATABRICKS_HOST", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-app")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", os.devnull)
    try:
        at = app(model_name=TABULAR, files=settings.FILES_API)
        assert _errors(at) == []
        age = next(w for w in at.number_input if w.label == "age")
        train = trained["tabular_train"]
        assert f"{train['age'].min():g} to {train['age'].max():g}" in age.help
        at = app("Monitoring", model_name=TEXT, files=settings.FILES_API)
        assert _errors(at) == [] and at.success[0].value.startswith("Decision: OK")
    finally:
        server.shutdown()
    assert "GET /api/2.0/fs/files/Volumes/main/bricksml/data/app_cu/v1/train.parquet" in handler.seen
    window = f"/Volumes/main/bricksml/inference/{TEXT}/v1/monitoring/20260103T000000Z"
    assert f"GET /api/2.0/fs/files{window}/summary.json" in handler.seen


def test_the_sidebar_switches_pages_and_the_address_follows(app) -> None:
    at = app(model_name=TEXT)
    assert at.header[0].value == "Predict"
    at.sidebar.radio[0].set_value("Models").run()
    assert _errors(at) == [] and at.header[0].value == f"Models: {TEXT}"
    assert at.query_params["page"] == "Models"


def test_the_models_page_lists_versions_gate_records_lineage_and_the_champion_plots(app) -> None:
    at = app("Models", model_name=TEXT)
    assert _errors(at) == []
    table = at.dataframe[0].value
    assert table["version"].tolist() == ["1"]
    assert table["aliases"].tolist() == ["@challenger, @champion"]
    assert table["gate"].tolist() == ["promoted"]
    assert table["data version"].tolist() == ["app_fs/v1"]
    assert "macro-F1 (holdout)" in table.columns
    assert "loads @champion (v1) itself" in at.info[0].value
    assert len(at.image) >= 3, "the champion's confusion matrix, ROC and precision-recall plots"


def test_the_monitoring_page_shows_the_latest_window_or_says_it_has_not_run(app, trained: dict) -> None:
    at = app("Monitoring", model_name=TABULAR)
    assert _errors(at) == [] and "has not run" in at.info[0].value
    output = AppSettings().output_location(TABULAR, "app_cu", "v1")
    for stamp, decision, until in (
        ("20260101T000000Z", "ok", "2026-01-01"),
        ("20260102T000000Z", "alert", "2026-01-02"),
    ):
        folder = layout.monitoring_dir(output, f"{TABULAR}/v1", stamp)
        folder.mkdir(parents=True)
        (folder / "feature_age.png").write_bytes(_png())
        summary = {
            "decision": decision,
            "reasons": [f"age drifted: PSI 0.41 over the alert threshold 0.25 ({decision})"],
            "window": {"since": until + "T00:00:00+00:00", "until": until + "T23:59:59+00:00", "rows": 500},
            "reference": {"data_name": "app_cu", "data_version": "v1", "split": "holdout"},
            "model": {"model_name": TABULAR, "model_version": "1", "model_uri": f"models:/{TABULAR}/1"},
            "signals": [
                {
                    "name": "age",
                    "kind": "feature",
                    "metric": "psi",
                    "value": 0.41,
                    "threshold_warning": 0.1,
                    "threshold_alert": 0.25,
                    "status": decision,
                    "reason": "PSI 0.41",
                },
                {
                    "name": "region",
                    "kind": "feature",
                    "metric": "psi",
                    "value": 0.01,
                    "threshold_warning": 0.1,
                    "threshold_alert": 0.25,
                    "status": "ok",
                    "reason": "PSI 0.01",
                },
            ],
            "drifted_features": ["age"],
            "plots": {"age": "feature_age.png"},
            "mlflow_run_id": "",
        }
        (folder / "summary.json").write_text(json.dumps(summary))
    at = app("Monitoring", model_name=TABULAR)
    assert _errors(at) == [
        "Decision: ALERT for v1, window 2026-01-02T00:00:00+00:00 to 2026-01-02T23:59:59+00:00 (500 rows)"
    ]
    drifted = at.dataframe[0].value
    assert drifted["name"].tolist() == ["age"] and drifted["status"].tolist() == ["alert"]
    assert len(at.image) == 1


def test_bricksml_app_passes_its_flags_as_the_app_settings(capsys) -> None:
    argv = ["app", "--print-command", "--output", "json", "--port", "8600", "--model-name", TEXT]
    assert main([*argv, "--serving-url", "http://127.0.0.1:8080/", "--serving-endpoint", "sentiment"]) == 0
    data = json.loads(capsys.readouterr().out)["data"]
    assert data["command"][1:5] == ["-m", "streamlit", "run", str(SCRIPT)]
    assert data["command"][data["command"].index("--server.port") + 1] == "8600"
    chosen = AppSettings.from_env(data["env"])
    assert (chosen.model_name, chosen.serving_url, chosen.serving_endpoint) == (
        TEXT,
        "http://127.0.0.1:8080",
        "sentiment",
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--model-name", "sentiment"],
            "error: --model-name 'sentiment': must be a three-level Unity Catalog name",
        ),
        (["--serving-url", "http://127.0.0.1:8080"], "error: --serving-url needs --serving-endpoint"),
        (["--serving-endpoint", "x"], "error: --serving-endpoint needs --serving-url locally"),
        (["--port", "70000"], "error: --port 70000: must be from 1 to 65535"),
    ],
    ids=["model-name", "url-without-endpoint", "endpoint-without-url", "port"],
)
def test_bricksml_app_refuses_flags_that_cannot_work(capsys, flags: list[str], message: str) -> None:
    assert main(["app", "--print-command", *flags]) == 2
    assert capsys.readouterr().err.startswith(message)


def _png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.bar(["reference", "window"], [1, 2])
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()
