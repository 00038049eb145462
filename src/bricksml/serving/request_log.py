"""The request log of a serving endpoint: the table monitoring reads, the same on both sides.

On Databricks the endpoint's AI Gateway writes it (the Unity Catalog inference table
``<catalog>.<schema>.<endpoint>_payload``); locally ``bricksml serve`` writes Parquet files with
the same columns into :func:`bricksml.layout.local_table_dir` of that name. Locally two columns
are added, ``served_model_name`` and ``served_model_version``, because there is no served-entity
table to join ``served_entity_id`` with.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pyarrow as pa

from bricksml import layout, runtime
from bricksml.errors import BricksmlError

#: The suffix AI Gateway gives an endpoint's inference table.
TABLE_SUFFIX = "_payload"

#: The AI Gateway inference table's columns and types, then the two local additions.
SCHEMA = pa.schema(
    [
        pa.field("request_date", pa.date32()),
        pa.field("databricks_request_id", pa.string()),
        pa.field("client_request_id", pa.string()),
        pa.field("request_time", pa.timestamp("us", tz="UTC")),
        pa.field("status_code", pa.int32()),
        pa.field("sampling_fraction", pa.float64()),
        pa.field("execution_duration_ms", pa.int64()),
        pa.field("request", pa.string()),
        pa.field("response", pa.string()),
        pa.field("served_entity_id", pa.string()),
        pa.field("logging_error_codes", pa.list_(pa.string())),
        pa.field("requester", pa.string()),
        pa.field("served_model_name", pa.string()),
        pa.field("served_model_version", pa.string()),
    ]
)
#: The columns only the local log has.
LOCAL_COLUMNS = ("served_model_name", "served_model_version")


def table_name(catalog: str, schema: str, endpoint: str) -> str:
    """The inference table of an endpoint, named the way AI Gateway names it."""
    for what, value in (("catalog", catalog), ("schema", schema), ("endpoint", endpoint)):
        if not value or "." in value:
            raise BricksmlError(f"the request log's {what} must be a name without '.'; got {value!r}")
    return f"{catalog}.{schema}.{table_prefix(endpoint)}{TABLE_SUFFIX}"


def table_prefix(endpoint: str) -> str:
    """The inference table's name prefix the deploy step sets: the endpoint name, '-' as '_'.

    Set explicitly (rather than left to AI Gateway's default) so both sides agree on the name.
    """
    return endpoint.replace("-", "_")


def read_requests(table: str, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """The logged requests with ``since <= request_time < until`` (naive datetimes are UTC).

    Locally an endpoint that has not logged anything yet gives an empty frame with the columns.
    """
    start, end = _utc(since), _utc(until)
    if runtime.on_databricks():
        return _read_spark(table, start, end)
    folder = layout.local_table_dir(table)
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return SCHEMA.empty_table().to_pandas()
    import pyarrow.dataset as ds

    dataset = ds.dataset([str(f) for f in files], schema=SCHEMA, format="parquet")
    condition = None
    if start is not None:
        condition = ds.field("request_time") >= pa.scalar(start, SCHEMA.field("request_time").type)
    if end is not None:
        upper = ds.field("request_time") < pa.scalar(end, SCHEMA.field("request_time").type)
        condition = upper if condition is None else condition & upper
    frame = dataset.to_table(filter=condition).to_pandas()
    return frame.sort_values("request_time", kind="stable").reset_index(drop=True)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _read_spark(table: str, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    """The inference table through Spark, filtered there so only the window crosses over."""
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    frame = SparkSession.builder.getOrCreate().table(table)
    if start is not None:
        frame = frame.where(F.col("request_time") >= F.lit(start))
    if end is not None:
        frame = frame.where(F.col("request_time") < F.lit(end))
    return frame.orderBy("request_time").toPandas()
