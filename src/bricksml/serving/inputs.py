"""A scoring request's body as columns of checked values, or the 4xx that says what is wrong with it.

The four formats Databricks Model Serving accepts (MLflow's scoring protocol):

    {"dataframe_split": {"columns": [...], "data": [[...], ...]}}
    {"dataframe_records": [{"col": value, ...}, ...]}
    {"instances": [{"col": value, ...}, ...]}        (rows; plain values for a one-column model)
    {"inputs": {"col": [values], ...}}               (columns; or rows, as instances)

beside which a body may carry ``client_request_id`` (logged with the request) and ``params``
(``{"probabilities": true}`` asks for the class probabilities). Every value is checked against the
model's signature before anything is predicted: a refusal names the field, the row and the value.
Columns the model does not read are ignored; a missing value (``null``) is scored as the pipeline
imputes it (empty text, the column's median).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
#: Keys a body may hold beside its one format key.
EXTRA_KEYS = ("client_request_id", "params")
#: What ``params`` may ask for, locally (Databricks ignores params a model's signature lacks).
PARAMS = ("probabilities",)
_ACCEPTED = f"one of {', '.join(FORMATS)} (and optionally {', '.join(EXTRA_KEYS)})"
_NEEDS = {"string": "text (a JSON string)", "double": "a number", "bool": "true or false"}
_SHOWN_MAX = 40


class RequestError(Exception):
    """A request the server refuses, as Databricks answers it: a status and ``error_code``/``message``."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message

    def body(self) -> dict[str, str]:
        return {"error_code": self.error_code, "message": self.message}


def bad_request(message: str) -> RequestError:
    return RequestError(400, "BAD_REQUEST", message)


def malformed(message: str) -> RequestError:
    return RequestError(400, "MALFORMED_REQUEST", message)


@dataclass
class Rows:
    """The model's columns of one request, checked: ``columns[name]`` holds ``count`` values."""

    columns: dict[str, list[Any]]
    count: int
    probabilities: bool = False
    client_request_id: str | None = None
    ignored: list[str] = field(default_factory=list)  # columns sent that the model does not read


def decode(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; a refusal names what is wrong with it."""
    if not body.strip():
        raise malformed(f"the request body is empty; send a JSON object with {_ACCEPTED}")
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise malformed("the request body is not UTF-8 text; send JSON encoded as UTF-8") from None
    except ValueError as exc:
        raise malformed(f"the request body is not valid JSON ({exc}); send a JSON object") from None
    if not isinstance(data, dict):
        raise malformed(f"the request body is a JSON {_json_kind(data)}; send a JSON object with {_ACCEPTED}")
    return data


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def parse(
    data: Mapping[str, Any], types: Mapping[str, pa.DataType | None], max_rows: int, regression: bool
) -> Rows:
    """The model's columns of a decoded body, each value checked against ``types`` (the signature)."""
    unknown = [key for key in data if key not in FORMATS and key not in EXTRA_KEYS]
    if unknown:
        raise bad_request(f"unknown key {unknown[0]!r} in the request body; it holds {_ACCEPTED}")
    given = [key for key in FORMATS if key in data]
    if len(given) != 1:
        found = "none of them" if not given else " and ".join(given)
        raise bad_request(f"the request body must hold exactly one of {', '.join(FORMATS)}; it holds {found}")
    key = given[0]
    probabilities = _params(data.get("params"), regression)
    client_id = data.get("client_request_id")
    if client_id is not None and not isinstance(client_id, str):
        raise bad_request(f"client_request_id must be a string, not a JSON {_json_kind(client_id)}")
    names = list(types)
    if key == "dataframe_split":
        sent = _split(data[key], max_rows)
    elif key == "inputs" and isinstance(data[key], dict):
        sent = _columnar(data[key], key, max_rows)
    else:
        sent = _records(data[key], key, names, max_rows)
    count = _count(sent, key)
    missing = [name for name in names if name not in sent]
    if missing:
        listed = ", ".join(repr(m) for m in missing)
        has = ", ".join(repr(c) for c in sent) or "no columns"
        raise bad_request(f"{key} lacks the model's column(s) {listed}; it has {has}")
    columns = {name: _checked(sent[name], types[name], name, key) for name in names}
    ignored = [name for name in sent if name not in types]
    return Rows(columns, count, probabilities, client_id, ignored)


def _params(params: Any, regression: bool) -> bool:
    if params is None:
        return False
    if not isinstance(params, dict):
        raise bad_request(
            f'params must be a JSON object such as {{"probabilities": true}}, not a {_json_kind(params)}'
        )
    unknown = [name for name in params if name not in PARAMS]
    if unknown:
        raise bad_request(f"unknown params key {unknown[0]!r}; this server takes {', '.join(PARAMS)}")
    wanted = params.get("probabilities", False)
    if not isinstance(wanted, bool):
        raise bad_request(f"params.probabilities must be true or false, not {_shown(wanted)}")
    if wanted and regression:
        raise bad_request("params.probabilities: the model is a regressor, it predicts numbers, not classes")
    return wanted


def _split(value: Any, max_rows: int) -> dict[str, list[Any]]:
    where = "dataframe_split"
    if not isinstance(value, dict):
        raise bad_request(
            f'{where} must be an object {{"columns": [...], "data": [[...]]}}, not a {_json_kind(value)}'
        )
    columns, rows = value.get("columns"), value.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise bad_request(f"{where}.columns must be a list of column names (strings)")
    if len(set(columns)) != len(columns):
        twice = next(c for c in columns if columns.count(c) > 1)
        raise bad_request(f"{where}.columns names {twice!r} twice")
    if not isinstance(rows, list):
        raise bad_request(f"{where}.data must be a list of rows (lists of values)")
    _limit(len(rows), max_rows, f"{where}.data")
    out: dict[str, list[Any]] = {name: [] for name in columns}
    lists = list(out.values())
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != len(columns):
            size = f"{len(row)} values" if isinstance(row, list) else f"a {_json_kind(row)}"
            raise bad_request(f"{where}.data row {number} holds {size}; each row lists {len(columns)} values")
        for values, item in zip(lists, row, strict=True):
            values.append(item)
    return out


def _columnar(value: dict[str, Any], where: str, max_rows: int) -> dict[str, list[Any]]:
    for name, values in value.items():
        if not isinstance(values, list):
            raise bad_request(
                f"{where}.{name} must be a list of values (one per row), not a {_json_kind(values)}"
            )
        _limit(len(values), max_rows, f"{where}.{name}")
    return dict(value)


def _records(value: Any, where: str, names: list[str], max_rows: int) -> dict[str, list[Any]]:
    if not isinstance(value, list):
        raise bad_request(f"{where} must be a list of rows (JSON objects), not a {_json_kind(value)}")
    _limit(len(value), max_rows, where)
    if value and not isinstance(value[0], dict) and len(names) == 1:  # plain values, one column
        for number, item in enumerate(value, start=1):
            if isinstance(item, (dict, list)):
                raise bad_request(
                    f"{where} row {number} is a JSON {_json_kind(item)}; give plain values or objects"
                )
        return {names[0]: list(value)}
    out: dict[str, list[Any]] = {}
    for number, row in enumerate(value, start=1):
        if not isinstance(row, dict):
            raise bad_request(
                f"{where} row {number} is a JSON {_json_kind(row)}; each row is an object {{column: value}}"
            )
        for name, item in row.items():
            column = out.get(name)
            if column is None:  # a column first seen here is missing (null) in the rows before
                column = out[name] = [None] * (number - 1)
            column.append(item)
        for column in out.values():
            if len(column) < number:  # missing in this row: null, as pandas reads records
                column.append(None)
    return out


def _count(sent: dict[str, list[Any]], where: str) -> int:
    sizes = {name: len(values) for name, values in sent.items()}
    if len(set(sizes.values())) > 1:
        longest = max(sizes, key=sizes.__getitem__)
        shortest = min(sizes, key=sizes.__getitem__)
        raise bad_request(
            f"{where}: column {longest!r} has {sizes[longest]} values, {shortest!r} {sizes[shortest]};"
            " give every column one value per row"
        )
    count = next(iter(sizes.values()), 0)
    if count == 0:
        raise bad_request(f"{where} holds no rows; send at least one")
    return count


def _limit(rows: int, max_rows: int, where: str) -> None:
    if rows > max_rows:
        raise bad_request(
            f"{where} holds {rows} rows; this server takes at most {max_rows} per request (split it)"
        )


def _checked(values: list[Any], type_: pa.DataType | None, name: str, where: str) -> list[Any]:
    """``values`` when each is of the column's type or null; else the first one to blame, named."""
    if type_ is None:
        return values
    if pa.types.is_string(type_):
        allowed: tuple[type, ...] = (str,)
        kind = "string"
    elif pa.types.is_floating(type_):
        allowed, kind = (int, float), "double"
    elif pa.types.is_boolean(type_):
        allowed, kind = (bool,), "bool"
    else:
        return values
    for number, value in enumerate(values, start=1):
        if value is None:
            continue
        cls = type(value)
        if cls not in allowed or (kind == "double" and cls is bool):
            raise bad_request(
                f"column {name!r} needs {_NEEDS[kind]}; row {number} of {where} holds {_shown(value)}"
            )
        if kind == "double" and cls is float and not math.isfinite(value):  # e.g. 1e999
            raise bad_request(f"column {name!r} needs finite numbers; row {number} of {where} holds {value}")
    return values


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _shown(value: Any) -> str:
    text = json.dumps(value)
    kind = _json_kind(value)
    text = text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."
    return f"{text} (a {kind})"
