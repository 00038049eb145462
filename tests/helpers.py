"""Data versions the tests build on, made the way a user makes them: a raw file, then create_data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bricksml.jobs.create_data import CreateDataResult, create_data
from bricksml.params import CreateDataParams

#: The column roles of the generated data sets (bricksml.data.sample).
SENTIMENT = {"label_col": "Sentiment", "text_col": "Sentence", "id_col": "id"}
CUSTOMERS = {"label_col": "customer_segment", "id_col": "customer_id"}
#: The order reviews' score is a regression only when asked: its 5 values would be classes.
REVIEWS = {"label_col": "review_score", "text_col": "review_comment_message", "id_col": "order_id"}


def make_version(root: Path, name: str, frame: pd.DataFrame, roles: dict, **params: str) -> CreateDataResult:
    """``frame`` as ``<root>/<name>.csv``, then data version ``<name>/v1`` of it (``params`` on top)."""
    raw = root / f"{name}.csv"
    frame.to_csv(raw, index=False)
    values = {"data_name": name, "data_version": "v1", "raw_path": str(raw), **roles, **params}
    return create_data(CreateDataParams.parse(values))
