"""Score a Spark table with the same registered model, through ``mlflow.pyfunc.spark_udf``.

For tables too big for one machine, on Databricks. The model's pipeline takes the raw columns, so
the UDF receives them as they are in the table. Spark writes the predictions as a folder of Parquet
parts under ``predictions.parquet``; the caller publishes the folder atomically like any output.
The UDF loads the artifact with MLflow's own loader, which trusts the types the artifact lists:
the caller must have loaded the same URI through ``modelstore.load`` first (inference does), so
that only an artifact holding nothing but bricksml's own types reaches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow

from bricksml.errors import DataError

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


def score_table(
    table_name: str,
    load_uri: str,
    features: list[str],
    keep: list[str],
    version: str,
    out_dir: Path,
) -> int:
    """Score every row of ``table_name`` and write the predictions under ``out_dir``; return rows."""
    spark = active_spark()
    from pyspark.sql import functions as F

    table = spark.table(table_name)
    missing = [c for c in features if c not in table.columns]
    if missing:
        raise DataError(f"table {table_name} lacks the model's column(s) {missing}; it has {table.columns}")
    predict = mlflow.pyfunc.spark_udf(spark, load_uri, result_type="string", env_manager="local")
    scored = table.select(
        *[c for c in keep if c in table.columns],
        predict(F.struct(*features)).alias("prediction"),
        F.lit(version).alias("model_version"),
        F.current_timestamp().alias("scored_at"),
    )
    path = str(out_dir / "predictions.parquet")
    scored.write.parquet(path)
    return spark.read.parquet(path).count()
