"""The serving request log of a window as rows: each answered request's inputs and predictions.

A logged request body is read the way the server read it (:func:`bricksml.serving.inputs.parse`),
so every format Databricks Model Serving takes gives the same columns; its answer gives the
predictions (and the class probabilities when the client asked for them). Requests that were
refused or failed count towards the failed share; their bodies are not rows of the window.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bricksml.monitoring import columns as C
from bricksml.serving import inputs, request_log

#: A body that held more rows than this was refused by the server; reading it back takes as many.
_MAX_ROWS = 1_000_000


@dataclass
class RequestRows:
    """The window's part of the request log."""

    table: str
    requests: int  # every logged request of the model in the window
    failed: int  # of those, the ones not answered with 200
    unreadable: int  # answered, but the log holds no body to read (too large to log)
    frame: pd.DataFrame  # one row per predicted row


def read(
    table: str,
    since: dt.datetime,
    until: dt.datetime,
    model_name: str,
    model_version: str,
    feature_columns: list[str],
) -> RequestRows:
    """The logged requests of ``model_name`` v``model_version`` in ``[since, until)``."""
    log = request_log.read_requests(table, since, until)
    log = _of_version(log, model_name, model_version)
    answered = log[log["status_code"] == 200]
    parts, unreadable = [], 0
    types = dict.fromkeys(feature_columns)  # the server checked the types when it answered
    for request_text, response_text in zip(answered["request"], answered["response"], strict=True):
        part = _rows(request_text, response_text, types)
        if part is None:
            unreadable += 1
        else:
            parts.append(part)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*feature_columns])
    frame[C.SOURCE] = table
    frame[C.HAS_INPUTS] = True
    return RequestRows(table, len(log), int((log["status_code"] != 200).sum()), unreadable, frame)


def _of_version(log: pd.DataFrame, model_name: str, model_version: str) -> pd.DataFrame:
    """The rows of one served version; a log that does not say which (Databricks') is taken whole."""
    names = log.get("served_model_name")
    versions = log.get("served_model_version")
    if names is None or versions is None or names.isna().all():
        return log
    return log[(names == model_name) & (versions.astype(str) == str(model_version))]


def _rows(request_text: str | None, response_text: str | None, types: dict) -> pd.DataFrame | None:
    if not request_text or not response_text:
        return None
    try:
        body = json.loads(request_text)
        answer = json.loads(response_text)
        rows = inputs.parse(body, types, _MAX_ROWS, regression=False)
    except (ValueError, inputs.RequestError):
        return None
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or len(predictions) != rows.count:
        return None
    frame = pd.DataFrame({name: rows.columns[name] for name in types})
    frame[C.PREDICTION] = predictions
    probabilities = answer.get("probabilities")
    if isinstance(probabilities, list) and len(probabilities) == rows.count:
        frame[C.CONFIDENCE] = [
            max(p.values()) if isinstance(p, dict) and p else np.nan for p in probabilities
        ]
    else:
        frame[C.CONFIDENCE] = np.nan
    frame[C.ID] = None
    return frame
