"""Send rows to a serving endpoint, local (a URL) or on Databricks (a name, the SDK's authentication).

Both answer the same contract, so the request body is the same: ``dataframe_split`` for a table
file, the body as given for JSON that names its format, ``dataframe_records`` for a list of rows.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bricksml.errors import BricksmlError, DataError, WorkspaceError, first_line
from bricksml.serving.inputs import FORMATS

_TABLES = {".csv": ",", ".tsv": "\t", ".parquet": None, ".jsonl": None}


def request_body(given: str, probabilities: bool = False) -> dict[str, Any]:
    """The body for ``--input``: a file (JSON, CSV, TSV, Parquet, JSON Lines) or JSON text."""
    path = Path(given)
    if not given.lstrip().startswith(("{", "[")) and _is_file(path):
        body = _from_file(path)
    else:
        try:
            body = _from_json(json.loads(given), "--input")
        except ValueError:
            raise BricksmlError(
                f"--input {given[:60]!r}: neither a file nor JSON; give a .json/.csv/.parquet/.jsonl file"
                ' or JSON such as \'{"dataframe_records": [{"col": 1}]}\''
            ) from None
    if probabilities:
        body["params"] = {**(body.get("params") or {}), "probabilities": True}
    return body


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long to be a file is not one
        return False


def _from_file(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            return _from_json(json.loads(path.read_text()), str(path))
        except ValueError as exc:
            raise DataError(f"--input {path}: not valid JSON ({first_line(exc)})") from None
    if suffix not in _TABLES:
        raise BricksmlError(
            f"--input {path}: a .json, .csv, .tsv, .parquet or .jsonl file, not {suffix or 'no extension'}"
        )
    import pandas as pd

    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".jsonl":
            frame = pd.read_json(path, lines=True)
        else:
            frame = pd.read_csv(path, sep=_TABLES[suffix])
    except (ValueError, OSError) as exc:
        raise DataError(f"--input {path}: cannot be read ({first_line(exc, limit=200)})") from None
    split = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
    return {"dataframe_split": {"columns": split["columns"], "data": split["data"]}}


def _from_json(data: Any, where: str) -> dict[str, Any]:
    if isinstance(data, dict) and any(key in data for key in FORMATS):
        return data
    if isinstance(data, list):
        return {"dataframe_records": data}
    if isinstance(data, dict):  # one row
        return {"dataframe_records": [data]}
    raise BricksmlError(
        f"--input {where}: JSON rows (an object or a list of objects), or a body with {FORMATS[0]}"
    )


def invocations_url(endpoint: str) -> str | None:
    """The invocations URL of a local endpoint given as a URL; None for an endpoint name."""
    if not endpoint.startswith(("http://", "https://")):
        return None
    parts = urlsplit(endpoint)
    path = parts.path.rstrip("/")
    if not path.endswith("/invocations"):
        path += "/invocations"
    return parts._replace(path=path).geturl()


def invoke(endpoint: str, body: dict[str, Any], timeout: float = 60.0, wait: float = 0.0) -> dict[str, Any]:
    """The endpoint's answer to ``body``; a refusal is one line with its status and message.

    ``wait`` seconds: how long a local server may take to be ready (one that is starting).
    """
    url = invocations_url(endpoint)
    if url is None:
        return _invoke_databricks(endpoint, body, timeout)
    import httpx

    if wait > 0:
        _wait_ready(url, wait)

    try:
        response = httpx.post(url, json=body, timeout=timeout)
    except httpx.HTTPError as exc:
        raise WorkspaceError(
            f"no answer from {url} ({type(exc).__name__}: {first_line(exc, limit=120)});"
            " is `bricksml serve` running?"
        ) from None
    try:
        answer = response.json()
    except ValueError:
        answer = {"message": response.text[:200]}
    if response.status_code >= 400:
        _refused(url, response.status_code, answer)
    return answer


def _wait_ready(url: str, wait: float) -> None:
    import httpx

    ready = urlsplit(url)._replace(path="/ready").geturl()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            if httpx.get(ready, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise WorkspaceError(f"{ready} was not ready within {wait:g} s; is `bricksml serve` starting there?")


def _invoke_databricks(name: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    from databricks.sdk.errors import BadRequest, DatabricksError

    from bricksml.workspace import jobs

    client = jobs.connect()
    try:
        return client.api_client.do("POST", f"/serving-endpoints/{name}/invocations", body=body)
    except DatabricksError as exc:
        status = 400 if isinstance(exc, BadRequest) else 502
        code = getattr(exc, "error_code", None) or type(exc).__name__
        _refused(f"endpoint {name}", status, {"error_code": code, "message": str(exc)})
        raise  # unreachable: _refused raises


def _refused(where: str, status: int, answer: Any) -> None:
    code = answer.get("error_code", "") if isinstance(answer, dict) else ""
    message = answer.get("message", "") if isinstance(answer, dict) else str(answer)
    line = f"{where} answered {status} {code}: {first_line(Exception(message)) if message else 'no message'}"
    if 400 <= status < 500 and status not in (401, 403, 404):
        raise DataError(line)
    raise WorkspaceError(line)
