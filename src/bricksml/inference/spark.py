"""Score a Spark table with the same registered model, through ``mlflow.pyfunc.spark_udf``.

For tables too big for one machine, on Databricks. The model's pipeline takes the raw columns, so
the UDF receives them as they are in the table; a classifier's prediction is its class (a string),
a regressor's a number (a double), as on the pandas path. Spark writes the predictions as a folder of Parquet
parts under ``predictions.parquet``; the caller publishes the folder atomically like any output.

The UDF loads the artifact with MLflow's own loader, which trusts the types the artifact's MLmodel
lists: so :func:`checked_model` downloads the artifact once, checks that very folder with
``modelstore.load_local`` (only types bricksml's own models hold; pickle only when allowed), and
:func:`score_table` hands spark_udf that folder, never the URI, which could be read again.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import mlflow

from bricksml import layout
from bricksml.errors import DataError, first_line
from bricksml.models.tasks import CLASSIFICATION, REGRESSION
from bricksml.tracking import modelstore

NEEDS_SPARK = "input_table needs Spark (a Databricks cluster or serverless compute); here, use input_path"


def active_spark() -> Any:  # pyspark is optional: so is its SparkSession type
    """The active Spark session, or a clear error where there is none."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise DataError(NEEDS_SPARK) from None
    spark = SparkSession.getActiveSession()
    if spark is None:
        raise DataError(NEEDS_SPARK)
    return spark


def open_table(table_name: str) -> Any:
    """The table as a Spark DataFrame (nothing is read yet); a missing table is one clear line."""
    spark = active_spark()
    from pyspark.errors import AnalysisException

    try:
        return spark.table(table_name)
    except AnalysisException as exc:
        raise DataError(f"input_table {table_name}: Spark cannot read it ({first_line(exc)})") from None


@contextlib.contextmanager
def checked_model(load_uri: str, allow_unsafe_formats: bool = False) -> Iterator[Path]:
    """A local copy of the model's artifact that ``modelstore.load_local`` accepted, while in use."""
    with tempfile.TemporaryDirectory(prefix="bricksml-spark-model-") as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=load_uri, dst_path=tmp))
        modelstore.load_local(local, load_uri, allow_unsafe_formats=allow_unsafe_formats)
        yield local


def score_table(
    table: Any,
    checked_dir: Path,
    features: Sequence[str],
    keep: Sequence[str],
    version: str,
    out_dir: Path,
    task: str = CLASSIFICATION,
) -> dict[str, Any]:
    """Score every row of ``table`` into ``out_dir``; return its rows and what was predicted.

    ``checked_dir`` is a folder :func:`checked_model` yielded; ``table`` has the ``features`` (the
    caller checked, naming its parameter); ``keep``: columns copied as they are. A classifier's
    ``prediction`` is its class (``counts``: rows per class), a regressor's a number (``stats``:
    mean, spread and quantiles, from one aggregation of what was written).
    """
    spark = active_spark()
    from pyspark.sql import functions as F

    regression = task == REGRESSION
    result_type = "double" if regression else "string"
    predict = mlflow.pyfunc.spark_udf(spark, str(checked_dir), result_type=result_type, env_manager="local")
    scored = table.select(
        *keep,
        predict(F.struct(*features)).alias("prediction"),
        F.lit(version).alias("model_version"),
        F.current_timestamp().alias("scored_at"),
    )
    path = str(out_dir / layout.PREDICTIONS)
    scored.write.parquet(path)
    # Counted from what was written, in one small job: the table is not scored twice.
    written = spark.read.parquet(path)
    if regression:
        return _number_summary(written)
    counts = written.groupBy("prediction").count().collect()
    by_class = {str(row["prediction"]): int(row["count"]) for row in sorted(counts, key=lambda r: str(r[0]))}
    return {"rows": sum(by_class.values()), "counts": by_class}


def _number_summary(written: Any) -> dict[str, Any]:
    """Rows and the predictions' mean, spread, range and (approximate) quantiles, in one job."""
    from pyspark.sql import functions as F

    points = (0.05, 0.25, 0.5, 0.75, 0.95)
    row = written.agg(
        F.count("*").alias("rows"),
        F.mean("prediction").alias("mean"),
        F.stddev_pop("prediction").alias("std"),
        F.min("prediction").alias("min"),
        F.max("prediction").alias("max"),
        F.percentile_approx("prediction", list(points), 10_000).alias("quantiles"),
    ).collect()[0]
    stats = {k: float(row[k]) for k in ("mean", "std", "min", "max") if row[k] is not None}
    stats.update(
        {f"p{round(q * 100):02d}": float(v) for q, v in zip(points, row["quantiles"] or [], strict=False)}
    )
    return {"rows": int(row["rows"]), "counts": {}, "stats": stats}
