"""`bricksml serve` end to end: a real uvicorn process answering the Databricks Model Serving contract.

One server per module, on a tabular model (mixed column types), started with small limits so the
refusals are cheap to provoke. The tests run in file order on one worker: the formats, the
refusals, the alias it follows (under load, and after `bricksml rollback`), `bricksml invoke`
(against it and through a fake Databricks endpoint in front of it), and last SIGTERM with a request
in flight, after which the request log must hold one row per request sent.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from databricks.sdk import WorkspaceClient
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from bricksml import layout
from bricksml.cli.main import main
from bricksml.data import sample
from bricksml.jobs.train_models import train_models
from bricksml.jobs.validate_model import validate_model
from bricksml.params import TrainParams
from bricksml.serving import inputs, request_log
from bricksml.serving.served import ServedModel
from bricksml.tracking import modelstore, registry
from tests.fake_serving import FakeServing
from tests.helpers import CUSTOMERS, make_version

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serving")]

MODEL = "main.bricksml.cu"
ENDPOINT = "bricksml-cu"
TABLE = request_log.table_name("main", "bricksml", ENDPOINT)
MAX_ROWS = 50
MAX_BYTES = 20_000
START_TIMEOUT = 90.0


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    holdout: pd.DataFrame
    columns: list[str]
    stderr: list[str] = field(default_factory=list)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    sent: Counter = field(default_factory=Counter)  # status -> invocations of this endpoint sent

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def post(
        self, body: object = None, *, raw: bytes | None = None, path: str = "/invocations", **headers: str
    ):
        content = raw if raw is not None else json.dumps(body).encode()
        response = self.http.post(
            self.url + path, content=content, headers={"Content-Type": "application/json", **headers}
        )
        if response.status_code != 404:  # another endpoint's path: not a request to this one, not logged
            self.sent[response.status_code] += 1
        return response

    def rows(self, n: int = 3) -> pd.DataFrame:
        return self.holdout[self.columns].head(n)


@pytest.fixture(scope="module")
def server(workspace: Path) -> Iterator[Server]:
    make_version(workspace, "cu", sample.customers(600, 5), CUSTOMERS)
    params = TrainParams.parse({"data_name": "cu", "data_version": "v1", "model_type": "logistic_regression"})
    trained = train_models(params)
    assert validate_model(params, trained.model_version).decision == "promoted"
    info = mlflow.models.get_model_info(trained.model_uri)
    holdout = pd.read_parquet(workspace / "Volumes/main/bricksml/data/cu/v1/holdout.parquet")
    command = [sys.executable, "-m", "bricksml.cli.main", "serve", "--model-name", MODEL, "--port", "0"]
    command += ["--poll-seconds", "0.2", "--log-flush-seconds", "3600", "--max-rows", str(MAX_ROWS)]
    command += ["--max-request-mb", str(MAX_BYTES / (1 << 20)), "--output", "json"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ
    )
    lines: list[str] = []
    banner = threading.Event()

    def read() -> None:
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if line.startswith("serving "):
                banner.set()

    threading.Thread(target=read, daemon=True).start()
    if not banner.wait(START_TIMEOUT):
        process.kill()
        pytest.fail(f"the server did not start: {lines[-5:]}")
    url = next(line for line in lines if line.startswith("serving ")).split(" at ")[1]
    base = url.split("/serving-endpoints/")[0]
    assert url.endswith(f"/serving-endpoints/{ENDPOINT}/invocations")
    running = Server(base, process, holdout, info.signature.inputs.input_names(), lines)
    yield running
    if process.poll() is None:
        process.kill()
        process.wait(10)


def _own_predictions(frame: pd.DataFrame, version: str = "1") -> list[str]:
    model = modelstore.load(f"models:/{MODEL}/{version}", permission=None)
    return [str(p) for p in model.predict(frame)]


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def test_ready_and_health_name_the_version_served(server: Server) -> None:
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/ready").json()
    assert (ready["served_model_name"], ready["served_model_version"]) == (MODEL, "1")
    assert ready["following"]["alias"] == "champion" and ready["columns"] == server.columns


def test_every_request_format_gives_the_models_own_predictions(server: Server) -> None:
    frame = server.rows(4)
    expected = _own_predictions(frame)
    records = _records(frame)
    split = json.loads(frame.to_json(orient="split", index=False))
    bodies = {
        "dataframe_split": {"dataframe_split": {"columns": split["columns"], "data": split["data"]}},
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs (columns)": {"inputs": {c: frame[c].tolist() for c in frame}},
        "inputs (rows)": {"inputs": records},
    }
    for label, body in bodies.items():
        for path in ("/invocations", f"/serving-endpoints/{ENDPOINT}/invocations"):
            response = server.post(body, path=path)
            assert response.status_code == 200, (label, response.text)
            answer = response.json()
            assert answer["predictions"] == expected, label
            assert (answer["served_model_name"], answer["served_model_version"]) == (MODEL, "1")
            assert response.headers["x-request-id"]


def test_probabilities_when_asked(server: Server) -> None:
    frame = server.rows(5)
    answer = server.post({"dataframe_records": _records(frame), "params": {"probabilities": True}}).json()
    model = modelstore.load(f"models:/{MODEL}/1", permission=None)
    expected = model.predict_proba(frame)
    classes = [str(c) for c in model.classes_]
    assert [list(p) for p in answer["probabilities"]] == [classes] * 5
    got = np.array([[p[c] for c in classes] for p in answer["probabilities"]])
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert answer["predictions"] == [classes[i] for i in expected.argmax(axis=1)]


def test_extra_columns_are_ignored_and_order_does_not_matter(server: Server) -> None:
    frame = server.rows(3)
    shuffled = frame[list(reversed(frame.columns))].assign(comment="ignore me", score=1.5)
    response = server.post({"dataframe_records": _records(shuffled)})
    assert response.status_code == 200
    assert response.json()["predictions"] == _own_predictions(frame)


def test_missing_values_are_scored_as_the_pipeline_imputes_them(server: Server) -> None:
    record = _records(server.rows(1))[0]
    record["age"], record["region"] = None, None
    response = server.post({"dataframe_records": [record]})
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 1


def _bad_requests(server: Server) -> dict[str, tuple[dict, int, str, tuple[str, ...]]]:
    """label -> (how to send it, status, error_code, what the message must name)."""
    good = _records(server.rows(2))
    no_age = [{k: v for k, v in r.items() if k != "age"} for r in good]
    text_age = [{**good[0]}, {**good[1], "age": "old"}]
    number_region = [{**good[0], "region": 5}]
    bool_income = [{**good[0], "annual_income": True}]
    split = json.loads(server.rows(2).to_json(orient="split", index=False))
    short_row = {"columns": split["columns"], "data": [split["data"][0], split["data"][1][:-1]]}
    many = {"inputs": {c: [v] * (MAX_ROWS + 1) for c, v in good[0].items()}}
    big = json.dumps({"dataframe_records": good * 200}).encode()
    assert len(big) > MAX_BYTES
    return {
        "missing column": ({"body": {"dataframe_records": no_age}}, 400, "BAD_REQUEST", ("'age'",)),
        "text in a number column": (
            {"body": {"dataframe_records": text_age}},
            400,
            "BAD_REQUEST",
            ("'age'", "row 2", '"old"'),
        ),
        "number in a text column": (
            {"body": {"instances": number_region}},
            400,
            "BAD_REQUEST",
            ("'region'", "text"),
        ),
        "boolean in a number column": (
            {"body": {"dataframe_records": bool_income}},
            400,
            "BAD_REQUEST",
            ("'annual_income'",),
        ),
        "empty body": ({"raw": b""}, 400, "MALFORMED_REQUEST", ("empty",)),
        "malformed JSON": (
            {"raw": b'{"dataframe_records": [{"age": 3'},
            400,
            "MALFORMED_REQUEST",
            ("not valid JSON",),
        ),
        "a JSON list, not an object": ({"raw": b"[1, 2]"}, 400, "MALFORMED_REQUEST", ("list",)),
        "NaN is not JSON": ({"raw": b'{"inputs": {"age": [NaN]}}'}, 400, "MALFORMED_REQUEST", ("NaN",)),
        "unknown format key": ({"body": {"rows": good}}, 400, "BAD_REQUEST", ("'rows'", "dataframe_split")),
        "two format keys": (
            {"body": {"instances": good, "inputs": good}},
            400,
            "BAD_REQUEST",
            ("instances and inputs",),
        ),
        "a split row of the wrong length": (
            {"body": {"dataframe_split": short_row}},
            400,
            "BAD_REQUEST",
            ("row 2",),
        ),
        "columns of different lengths": (
            {"body": {"inputs": {**{c: [v, v] for c, v in good[0].items()}, "age": [1]}}},
            400,
            "BAD_REQUEST",
            ("'age'",),
        ),
        "no rows": ({"body": {"dataframe_records": []}}, 400, "BAD_REQUEST", ("no rows",)),
        "too many rows": ({"body": many}, 400, "BAD_REQUEST", (str(MAX_ROWS), str(MAX_ROWS + 1))),
        "body over the size limit": ({"raw": big}, 413, "BAD_REQUEST", (str(MAX_BYTES),)),
        "wrong content type": (
            {"raw": b"age,region\n1,north\n", "headers": {"Content-Type": "text/csv"}},
            415,
            "BAD_REQUEST",
            ("'text/csv'", "application/json"),
        ),
        "unknown params key": (
            {"body": {"inputs": good, "params": {"temperature": 1}}},
            400,
            "BAD_REQUEST",
            ("'temperature'",),
        ),
        "client_request_id not a string": (
            {"body": {"inputs": good, "client_request_id": 7}},
            400,
            "BAD_REQUEST",
            ("client_request_id",),
        ),
        "another endpoint's path": (
            {"body": {"inputs": good}, "path": "/serving-endpoints/other/invocations"},
            404,
            "RESOURCE_DOES_NOT_EXIST",
            ("'other'", ENDPOINT),
        ),
    }


def test_bad_requests_get_a_4xx_naming_the_field_and_the_server_keeps_serving(server: Server) -> None:
    cases = _bad_requests(server)
    assert len(cases) >= 10
    for label, (how, status, code, named) in cases.items():
        response = server.post(
            how.get("body"),
            raw=how.get("raw"),
            path=how.get("path", "/invocations"),
            **how.get("headers", {}),
        )
        assert response.status_code == status, (label, response.status_code, response.text)
        error = response.json()
        assert set(error) == {"error_code", "message"}, label
        assert error["error_code"] == code, (label, error)
        assert "\n" not in error["message"], label
        for part in named:
            assert part in error["message"], (label, part, error["message"])
        good = server.post({"dataframe_records": _records(server.rows(1))})
        assert good.status_code == 200, f"after {label}: {good.text}"
    get = httpx.get(server.url + "/invocations")
    assert get.status_code == 405 and get.json()["error_code"] == "BAD_REQUEST"
    ready = httpx.get(server.url + "/ready").json()["requests"]
    assert ready["failed"] == 0 and ready["refused"] == sum(n for s, n in server.sent.items() if s >= 400)


def test_the_server_follows_the_alias_under_load_without_failing_a_request(server: Server) -> None:
    first = registry.version(MODEL, "1")  # version 2: the same logged model, registered again
    second = registry.client().create_model_version(MODEL, first.source, first.run_id, tags=dict(first.tags))
    body = {"dataframe_records": _records(server.rows(2))}
    seen: list[tuple[int, str]] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            response = server.post(body)
            seen.append((response.status_code, response.json().get("served_model_version", "")))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    registry.set_alias(MODEL, registry.CHAMPION, second.version)
    moved = time.monotonic()
    while time.monotonic() - moved < 20 and not any(v == str(second.version) for _, v in seen[-4:]):
        time.sleep(0.05)
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join()
    assert {status for status, _ in seen} == {200}
    versions = [v for _, v in seen]
    assert "1" in versions and versions[-1] == str(second.version)
    switched = versions.index(str(second.version))
    assert set(versions[switched + 4 :]) == {str(second.version)}, "it went back to the old version"
    following = httpx.get(server.url + "/ready").json()["following"]
    assert following["swaps"] == 1 and following["error"] is None


def test_rollback_moves_champion_back_records_it_and_the_server_follows(server: Server, capsys) -> None:
    code = main(
        ["rollback", "--model-name", MODEL, "--to-version", "1", "--reason", "drift", "--output", "json"]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert out["data"]["from_version"] == "2" and out["data"]["to_version"] == "1"
    assert registry.aliases(MODEL)["champion"] == "1"
    for number in ("1", "2"):
        record = json.loads(registry.version(MODEL, number).tags["rollback_record"])
        assert record | {"at": None, "by": None} == {
            "from_version": "2",
            "to_version": "1",
            "chosen": "asked",
            "reason": "drift",
            "state": "done",
            "at": None,
            "by": None,
        }
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.post({"dataframe_records": _records(server.rows(1))}).json()["served_model_version"] == "1":
            break
        time.sleep(0.1)
    else:
        pytest.fail("the server did not follow the rollback")


def test_invoke_against_the_local_server(server: Server, capsys, tmp_path: Path) -> None:
    frame = server.rows(3)
    code = main(
        ["invoke", "--endpoint", server.url, "--input", json.dumps(_records(frame)), "--output", "json"]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["data"]["predictions"] == _own_predictions(frame)
    file = tmp_path / "rows.csv"
    frame.to_csv(file, index=False)
    code = main(
        [
            "invoke",
            "--endpoint",
            f"{server.url}/serving-endpoints/{ENDPOINT}",
            "--input",
            str(file),
            "--probabilities",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0 and text.count("\n") >= 4 and f"{MODEL} v1" in text
    code = main(["invoke", "--endpoint", server.url, "--input", '{"age": "old"}'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3 and len(err) == 1 and "answered 400 BAD_REQUEST" in err[0] and "lacks" in err[0]
    server.sent[200] += 2
    server.sent[400] += 1


def test_invoke_a_databricks_endpoint_through_the_sdk(
    server: Server, capsys, monkeypatch, tmp_path: Path
) -> None:
    fake = FakeServing(backend=server.url, steps=1)
    host = fake.start()
    try:
        client = WorkspaceClient(host=host, token=fake.token)
        from bricksml.serving import endpoints

        endpoints.ensure(client, endpoints.EndpointSpec(ENDPOINT, MODEL, "1"), poll=0)
        for name in [n for n in os.environ if n.startswith("DATABRICKS_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("DATABRICKS_HOST", host)
        monkeypatch.setenv("DATABRICKS_TOKEN", fake.token)
        monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "none.cfg"))
        frame = server.rows(2)
        code = main(
            ["invoke", "--endpoint", ENDPOINT, "--input", json.dumps(_records(frame)), "--output", "json"]
        )
        out = json.loads(capsys.readouterr().out)
        assert code == 0, out
        assert out["data"]["predictions"] == _own_predictions(frame)
        sent = fake.calls("POST", f"/serving-endpoints/{ENDPOINT}/invocations")
        assert sent == [{"dataframe_records": _records(frame)}]
        monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-wrong")
        code = main(["invoke", "--endpoint", ENDPOINT, "--input", json.dumps(_records(frame))])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 8 and len(err) == 1 and ENDPOINT in err[0]
        assert fake.unknown == []
    finally:
        fake.stop()
    server.sent[200] += 1


def test_a_taken_port_and_an_unknown_model_are_one_clear_line(server: Server, capsys) -> None:
    code = main(["serve", "--model-name", MODEL, "--port", str(server.port)])
    err = capsys.readouterr().err.strip().splitlines()
    taken = (
        f"port {server.port} on 127.0.0.1 is taken (another server?); stop it or pass --port with a free one"
    )
    assert code == 2 and err == [f"error: {taken}"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    code = main(["serve", "--model-name", "main.bricksml.nope", "--port", str(free)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "main.bricksml.nope" in err[0] and "does not exist" in err[0]
    code = main(["serve", "--model-name", "nope", "--port", str(free)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--model-name 'nope'" in err[0]


def _half_sent(server: Server, body: bytes) -> socket.socket:
    """A connection whose request the server has begun reading: headers and the body's first bytes."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    head = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body[:10])
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")).split(b":")[1]
    )
    while len(rest) < length:
        rest += sock.recv(65536)
    return int(head.split()[1]), json.loads(rest)


def test_sigterm_answers_the_request_in_flight_then_flushes_one_log_row_per_request(server: Server) -> None:
    folder = layout.local_table_dir(TABLE)
    assert not list(folder.glob("*.parquet")), "rows were written before shutdown (flush interval 3600 s)"
    body = json.dumps({"dataframe_records": _records(server.rows(MAX_ROWS))}).encode()
    in_flight = [_half_sent(server, body) for _ in range(3)]
    time.sleep(0.5)  # the server has read their headers: three requests in flight
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    for sock in in_flight:
        sock.sendall(body[10:])
    answers = [_answer(sock) for sock in in_flight]
    for sock in in_flight:
        sock.close()
    server.sent[200] += len(in_flight)
    out, _ = server.process.communicate(timeout=60)
    assert server.process.returncode == 0, server.stderr[-5:]
    assert [status for status, _ in answers] == [200] * 3
    assert all(len(answer["predictions"]) == MAX_ROWS for _, answer in answers)
    summary = json.loads(out)["data"]
    logged = request_log.read_requests(TABLE)
    total = sum(server.sent.values())
    assert len(logged) == total == summary["requests"] == summary["request_log_rows"]
    assert Counter(logged["status_code"].tolist()) == Counter({s: n for s, n in server.sent.items()})
    assert list(logged.columns) == [f.name for f in request_log.SCHEMA]
    assert set(logged["served_model_version"]) == {"1", "2"}
    assert logged["databricks_request_id"].is_unique
    refused = logged[logged["status_code"] == 413].iloc[0]
    assert pd.isna(refused["request"]) and list(refused["logging_error_codes"]) == [
        "MAX_REQUEST_SIZE_EXCEEDED"
    ]
    answered = logged[logged["status_code"] == 200].iloc[0]
    assert json.loads(answered["response"])["predictions"] and json.loads(answered["request"])
    window = request_log.read_requests(TABLE, since=logged["request_time"].iloc[-3].to_pydatetime())
    assert len(window) == 3


def test_a_regressor_predicts_numbers_and_refuses_probabilities() -> None:
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    pipeline = make_pipeline(LinearRegression()).fit(frame, [1.0, 3.0, 5.0, 7.0])
    model = ServedModel(MODEL, "9", "models:/m/9", pipeline, {"x": pa.float64()}, True, (), 0.0)
    rows = inputs.parse({"inputs": {"x": [10, 0.5]}}, model.types, 10, regression=True)
    predictions, proba = model.predict(model.frame(rows.columns), probabilities=False)
    np.testing.assert_allclose(predictions, [21.0, 2.0])
    assert proba is None
    with pytest.raises(inputs.RequestError, match="regressor"):
        inputs.parse(
            {"inputs": {"x": [1]}, "params": {"probabilities": True}}, model.types, 10, regression=True
        )
