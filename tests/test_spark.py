"""input_table on a real local Spark session: spark_udf scores as the pandas path does, row for row.

The session (pyspark in local mode, ``local[2]``, Java 17) starts once per test session, with no UI,
two shuffle partitions and the driver on 127.0.0.1; pyspark from PyPI brings its jars, so nothing
is downloaded. Where pyspark cannot be imported these tests skip, except on CI (``CI=true``),
where the dev extras install it and a missing pyspark is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: the dev extras install pyspark and CI has Java 17", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


try:
    import pyspark  # noqa: F401
except ImportError as exc:
    _unavailable(f"pyspark cannot be imported ({exc}); pip install -e '.[dev]'")
if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
    _unavailable("Spark needs Java 17 (no java on PATH, no JAVA_HOME)")

import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
import skops.io  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402

from bricksml.cli.main import main  # noqa: E402
from bricksml.data import sample  # noqa: E402
from bricksml.jobs.train_models import train_models  # noqa: E402
from bricksml.jobs.validate_model import validate_model  # noqa: E402
from bricksml.params import TrainParams  # noqa: E402
from bricksml.tracking import modelstore, setup  # noqa: E402
from tests.helpers import REVIEWS, SENTIMENT, make_version  # noqa: E402

pytestmark = [
    # pyspark 4 warns on every pandas conversion that it does not fully support pandas 3 yet.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    # One xdist worker (make test: --dist loadgroup) holds them all: one JVM, one trained model.
    pytest.mark.xdist_group("spark"),
]

README = Path(__file__).resolve().parents[1] / "README.md"
#: The README's model: the snippet runs as written, with the local registry.
MODEL = "main.bricksml.financial_sentiment"
TABLE = "spark_catalog.bricksml.new_sentences"  # local Spark has one catalog: spark_catalog
OUTPUT = Path("Volumes/main/bricksml/inference")
ROWS = 3000
NO_TEXT = [4, 1717]


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Spark session for the whole test run, stopped at its end."""
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSPARK_PYTHON", sys.executable)  # the workers import this venv's packages
        started = time.perf_counter()
        session = (
            SparkSession.builder.master("local[2]")
            .appName("bricksml-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.sql.warehouse.dir", str(warehouse))
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        session.conf.set("bricksml.tests.start_seconds", f"{time.perf_counter() - started:.2f}")
        yield session
        session.stop()


@pytest.fixture(scope="module")
def scored(workspace: Path, spark: Any) -> dict:
    """A champion of the README's name, a table of ROWS new sentences, and the pandas path's scores."""
    make_version(workspace, "fs", sample.sentiment(1500, 11), SENTIMENT)
    params = TrainParams.parse({"data_name": "fs", "data_version": "v1", "model_name": MODEL})
    result = train_models(params)
    validate_model(params, result.model_version)

    frame = sample.sentiment(ROWS, 23)
    frame.loc[NO_TEXT, "Sentence"] = None  # the pandas path scores them as empty text: Spark must too
    spark.sql("CREATE DATABASE IF NOT EXISTS spark_catalog.bricksml")
    spark.createDataFrame(frame).write.mode("overwrite").saveAsTable(TABLE)
    nulls = spark.table(TABLE).where("Sentence IS NULL").count()
    assert nulls == len(NO_TEXT), f"Spark stored {nulls} of the {len(NO_TEXT)} missing sentences as null"
    as_file = workspace / "new_sentences.parquet"
    frame.to_parquet(as_file, index=False)
    pandas = _cli(["--model-name", MODEL, "--input-path", str(as_file)])
    return {"root": workspace, "version": result.model_version, "frame": frame, "pandas": pandas}


def _cli(args: list[str]) -> dict:
    """``bricksml infer ... --output json`` in-process; its JSON envelope's data."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["infer", *args, "--output", "json"])
    envelope = json.loads(out.getvalue())
    envelope["code"], envelope["stderr"] = code, err.getvalue()
    return envelope


def _predictions(envelope: dict) -> pd.DataFrame:
    path = Path(envelope["data"]["output_path"], "predictions.parquet")
    return pd.read_parquet(path).sort_values("id", ignore_index=True)


def test_session_starts_fast(spark: Any) -> None:
    seconds = float(spark.conf.get("bricksml.tests.start_seconds"))
    assert seconds < 60, f"the local Spark session took {seconds:.1f} s to start"


def test_a_spark_table_scores_as_the_pandas_path_row_for_row(scored: dict) -> None:
    spark_run = _cli(["--model-name", MODEL, "--input-table", TABLE])
    assert spark_run["code"] == 0, spark_run["stderr"]
    data, pandas = spark_run["data"], scored["pandas"]["data"]
    assert data["rows"] == pandas["rows"] == ROWS
    assert data["model_uri"] == pandas["model_uri"] == f"models:/{MODEL}/{scored['version']}"
    assert data["prediction_counts"] == pandas["prediction_counts"]
    assert pandas["null_text"] == len(NO_TEXT)

    out = Path(data["output_path"])
    assert out.parent == scored["root"] / OUTPUT / MODEL / f"v{scored['version']}"
    by_spark, by_pandas = _predictions(spark_run), _predictions(scored["pandas"])
    assert list(by_spark.columns) == ["id", "prediction", "model_version", "scored_at"]
    assert by_spark["id"].tolist() == by_pandas["id"].tolist() == scored["frame"]["id"].tolist()
    assert by_spark["prediction"].tolist() == by_pandas["prediction"].astype(str).tolist()
    assert set(by_spark["model_version"]) == {scored["version"]}
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["rows"] == ROWS and metadata["input"] == {"table": TABLE}
    assert metadata["model"]["model_version"] == scored["version"]
    assert metadata["prediction_counts"] == data["prediction_counts"]


def test_carried_columns_travel_with_the_spark_predictions(scored: dict) -> None:
    run = _cli(["--model-name", MODEL, "--input-table", TABLE, "--carry-columns", "Sentence"])
    assert run["code"] == 0, run["stderr"]
    predictions = _predictions(run)
    assert list(predictions.columns) == ["id", "Sentence", "prediction", "model_version", "scored_at"]
    assert predictions["Sentence"].tolist() == scored["frame"]["Sentence"].tolist()


def test_the_readme_snippet_scores_the_same_rows(scored: dict, spark: Any) -> None:
    section = README.read_text().split("**Spark tables on Databricks.**", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    local = {
        'mlflow.set_registry_uri("databricks-uc")': f"mlflow.set_registry_uri({mlflow.get_registry_uri()!r})",
        '"main.bricksml.new_sentences"': f'"{TABLE}"',
        '"main.bricksml.sentiment_scored"': '"spark_catalog.bricksml.sentiment_scored"',
    }
    for written, here in local.items():
        assert written in snippet, f"the README's Spark snippet no longer has {written}"
        snippet = snippet.replace(written, here)
    assert f"models:/{MODEL}@champion" in snippet
    registry = mlflow.get_registry_uri()
    try:
        exec(compile(snippet, "README.md (Spark tables on Databricks)", "exec"), {"spark": spark})
    finally:
        mlflow.set_registry_uri(registry)
    scored_table = spark.table("spark_catalog.bricksml.sentiment_scored").toPandas()
    scored_table = scored_table.sort_values("id", ignore_index=True)
    by_pandas = _predictions(scored["pandas"])
    assert len(scored_table) == ROWS
    assert scored_table["prediction"].tolist() == by_pandas["prediction"].astype(str).tolist()


def test_a_model_spark_would_trust_blindly_is_refused_before_anything_runs(
    scored: dict, tmp_path: Path
) -> None:
    """spark_udf trusts the types an MLmodel lists: the Spark path checks the artifact first."""
    marker = tmp_path / "ran.txt"
    fitted = modelstore.load(f"models:/{MODEL}/{scored['version']}")
    leak = FunctionTransformer(pd.to_pickle, kw_args={"filepath_or_buffer": str(marker)})
    hostile = Pipeline([("leak", leak), ("model", fitted)])
    listed = skops.io.get_untrusted_types(data=skops.io.dumps(hostile))
    signature = mlflow.models.get_model_info(f"models:/{MODEL}/{scored['version']}").signature
    setup.configure()
    with mlflow.start_run(experiment_id=setup.experiment_id("/Shared/bricksml/tests")):
        info = mlflow.sklearn.log_model(
            hostile,
            name="model",
            serialization_format="skops",
            skops_trusted_types=listed,
            signature=signature,
            pip_requirements=[],
        )
    marker.unlink(missing_ok=True)  # logging may have run it: start clean
    out = tmp_path / "out"
    run = _cli(["--model-uri", info.model_uri, "--input-table", TABLE, "--output-root", str(out)])
    assert run["code"] == 3, run
    assert re.search(r"refused, its skops file holds .*pandas", run["stderr"]), run["stderr"]
    assert len(run["stderr"].strip().splitlines()) == 1
    assert not marker.exists(), "the hostile model ran"
    assert not out.exists() or not any(out.rglob("*"))


@pytest.mark.parametrize(
    ("args", "code", "pattern"),
    [
        (
            ["--input-table", "spark_catalog.bricksml.nope"],
            3,
            r"input_table spark_catalog\.bricksml\.nope: Spark cannot read it \(.*TABLE_OR_VIEW_NOT_FOUND",
        ),
        (["--input-table", TABLE, "--carry-columns", "nope"], 2, r"'carry_columns' parameter"),
    ],
)
def test_a_bad_table_is_one_line_and_writes_nothing(
    scored: dict, tmp_path: Path, args: list[str], code: int, pattern: str
) -> None:
    out = tmp_path / "out"
    run = _cli(["--model-name", MODEL, *args, "--output-root", str(out)])
    assert run["code"] == code, run
    assert len(run["stderr"].strip().splitlines()) == 1, run["stderr"]
    assert re.search(pattern, run["stderr"]), run["stderr"]
    assert not out.exists()


def test_a_table_without_the_models_column_is_refused(scored: dict, spark: Any, tmp_path: Path) -> None:
    spark.createDataFrame(pd.DataFrame({"id": [1], "Text": ["Profit rose"]})).createOrReplaceTempView(
        "wrong_columns"
    )
    run = _cli(["--model-name", MODEL, "--input-table", "wrong_columns", "--output-root", str(tmp_path)])
    assert run["code"] == 3, run
    assert "lacks the model's column(s) ['Sentence']; it has ['id', 'Text']" in run["stderr"]


REVIEWS_MODEL = "main.bricksml.spark_reviews"
REVIEWS_TABLE = "spark_catalog.bricksml.new_orders"


@pytest.fixture(scope="module")
def regression(workspace: Path, spark: Any) -> dict:
    """A regressor (ridge on order reviews: text beside numbers), a table of new orders, pandas' scores."""
    make_version(workspace, "reviews", sample.order_reviews(500, 7), REVIEWS, task="regression")
    params = TrainParams.parse(
        {"data_name": "reviews", "data_version": "v1", "model_name": REVIEWS_MODEL, "gate_mode": "disabled"}
    )
    train_models(params)
    frame = sample.order_reviews(1500, 8).drop(columns="review_score")
    spark.createDataFrame(frame).write.mode("overwrite").saveAsTable(REVIEWS_TABLE)
    as_file = workspace / "new_orders.parquet"
    frame.to_parquet(as_file, index=False)
    pandas = _cli(["--model-uri", f"models:/{REVIEWS_MODEL}/1", "--input-path", str(as_file)])
    assert pandas["code"] == 0, pandas["stderr"]
    return {"frame": frame, "pandas": pandas}


def test_a_regressor_scores_a_spark_table_as_numbers_like_the_pandas_path(regression: dict) -> None:
    run = _cli(["--model-uri", f"models:/{REVIEWS_MODEL}/1", "--input-table", REVIEWS_TABLE])
    assert run["code"] == 0, run["stderr"]
    data, pandas = run["data"], regression["pandas"]["data"]
    assert data["task"] == pandas["task"] == "regression"
    assert data["rows"] == pandas["rows"] == len(regression["frame"]) and data["prediction_counts"] == {}
    by_spark = pd.read_parquet(Path(data["output_path"], "predictions.parquet")).sort_values("order_id")
    by_pandas = pd.read_parquet(Path(pandas["output_path"], "predictions.parquet")).sort_values("order_id")
    assert list(by_spark.columns) == ["order_id", "prediction", "model_version", "scored_at"]
    assert str(by_spark["prediction"].dtype) == "float64"
    assert by_spark["order_id"].tolist() == by_pandas["order_id"].tolist()
    assert by_spark["prediction"].to_numpy() == pytest.approx(by_pandas["prediction"].to_numpy(), rel=1e-9)
    stats = data["prediction_stats"]
    assert stats["mean"] == pytest.approx(pandas["prediction_stats"]["mean"], rel=1e-9)
    assert stats["p05"] <= stats["p50"] <= stats["p95"]
    metadata = json.loads(Path(data["output_path"], "metadata.json").read_text())
    assert metadata["model"]["task"] == "regression" and metadata["prediction_stats"] == stats
