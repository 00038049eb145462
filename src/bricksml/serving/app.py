"""The ASGI app: Databricks Model Serving's REST contract for the version a :class:`Holder` holds.

    POST /serving-endpoints/<endpoint>/invocations   (and POST /invocations)
    GET  /health                                     the process answers
    GET  /ready                                      a model is loaded: which one, and the alias it follows

An answer is ``{"predictions": [...], "served_model_name": ..., "served_model_version": ...}``
(with ``"probabilities"`` when the body's ``params`` ask for them); a refusal is Databricks'
``{"error_code": ..., "message": ...}`` with a 4xx status. Every invocation, answered or refused,
is one row of the request log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bricksml.serving import inputs
from bricksml.serving.batcher import Batcher, Predicted
from bricksml.serving.follower import AliasFollower, Holder
from bricksml.serving.inputs import RequestError
from bricksml.serving.log_writer import (
    REQUEST_TOO_LARGE,
    RESPONSE_TOO_LARGE,
    RequestLogWriter,
    logged_payload,
)

log = logging.getLogger(__name__)
JSON = "application/json"
_STATUS_CODES = {404: "RESOURCE_DOES_NOT_EXIST", 405: "BAD_REQUEST"}


@dataclass(frozen=True)
class Limits:
    """What one request may hold."""

    max_rows: int = 10_000
    max_request_bytes: int = 16 << 20  # Databricks Model Serving's payload limit


@dataclass
class Counters:
    requests: int = 0
    answered: int = 0
    refused: int = 0
    failed: int = 0


def create_app(
    holder: Holder,
    endpoint: str,
    limits: Limits,
    writer: RequestLogWriter | None = None,
    follower: AliasFollower | None = None,
) -> Starlette:
    """The app serving ``holder.model`` as endpoint ``endpoint``."""
    batcher = Batcher(max_batch_rows=max(limits.max_rows, 1))
    counters = Counters()

    async def invocations(request: Request) -> Response:
        name = request.path_params.get("name")
        if name is not None and name != endpoint:
            raise HTTPException(404, f"no endpoint {name!r} here; this server is endpoint {endpoint!r}")
        return await _invoke(request, holder, limits, batcher, writer, counters)

    async def health(_: Request) -> Response:
        return _json(200, {"status": "ok"})

    async def ready(_: Request) -> Response:
        model = holder.model
        body: dict[str, Any] = {
            "status": "ready",
            "endpoint": endpoint,
            "served_model_name": model.name,
            "served_model_version": model.version,
            "model_uri": model.uri,
            "task": "regression" if model.regression else "classification",
            "columns": list(model.types),
            "requests": counters.__dict__,
            "batches": {"count": batcher.batches, "requests": batcher.batched},
        }
        if follower is not None:
            body["following"] = follower.status()
        if writer is not None:
            body["request_log"] = {"folder": str(writer.folder), "rows_written": writer.rows_written}
        return _json(200, body)

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = exc.detail
        if exc.status_code == 405:
            detail = "this path takes POST with a JSON body"
        elif exc.status_code == 404 and detail == "Not Found":
            detail = "no such path; POST to /serving-endpoints/<name>/invocations or /invocations"
        return _json(
            exc.status_code,
            {"error_code": _STATUS_CODES.get(exc.status_code, "BAD_REQUEST"), "message": detail},
        )

    routes = [
        Route("/serving-endpoints/{name}/invocations", invocations, methods=["POST"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.state.counters = counters
    app.state.batcher = batcher
    return app


async def _invoke(
    request: Request,
    holder: Holder,
    limits: Limits,
    batcher: Batcher,
    writer: RequestLogWriter | None,
    counters: Counters,
) -> Response:
    arrived = dt.datetime.now(dt.timezone.utc)
    started = time.perf_counter()
    request_id = str(uuid.uuid4())
    counters.requests += 1
    model = holder.model  # the version this request is checked against and predicted by
    text: str | None = None
    client_id: str | None = None
    errors: list[str] = []
    try:
        _check_content_type(request)
        body = await _read_body(request, limits.max_request_bytes, errors)
        text = body.decode("utf-8", errors="replace")
        data = inputs.decode(body)
        client_id = data.get("client_request_id") if isinstance(data.get("client_request_id"), str) else None
        rows = inputs.parse(data, model.types, limits.max_rows, model.regression)
        predicted = await batcher.predict(rows, model, request.client)
        model = predicted.model
        status, payload = 200, _answer(predicted)
        counters.answered += 1
    except RequestError as exc:
        status, payload = exc.status, exc.body()
        counters.refused += 1
    except Exception as exc:  # a bug or a pipeline failure: the server keeps serving
        log.exception("request %s failed", request_id)
        status = 500
        payload = {
            "error_code": "INTERNAL_ERROR",
            "message": f"the model failed on this request ({type(exc).__name__})",
        }
        counters.failed += 1
    content = json.dumps(payload).encode()
    if writer is not None:
        writer.add(
            {
                "request_date": arrived.date(),
                "databricks_request_id": request_id,
                "client_request_id": client_id,
                "request_time": arrived,
                "status_code": status,
                "sampling_fraction": 1.0,
                "execution_duration_ms": int((time.perf_counter() - started) * 1000),
                "request": logged_payload(text, REQUEST_TOO_LARGE, errors),
                "response": logged_payload(content.decode(), RESPONSE_TOO_LARGE, errors),
                "served_entity_id": model.entity_id,
                "logging_error_codes": errors,
                "requester": request.client.host if request.client else None,
                "served_model_name": model.name,
                "served_model_version": model.version,
            }
        )
    return Response(content, status_code=status, media_type=JSON, headers={"x-request-id": request_id})


def _answer(predicted: Predicted) -> dict[str, Any]:
    model = predicted.model
    out: dict[str, Any] = {"predictions": predicted.predictions}
    if predicted.probabilities is not None:
        rows = predicted.probabilities.tolist()
        out["probabilities"] = [dict(zip(model.classes, row, strict=True)) for row in rows]
    out["served_model_name"] = model.name
    out["served_model_version"] = model.version
    return out


def _check_content_type(request: Request) -> None:
    given = request.headers.get("content-type", "")
    if given.split(";")[0].strip().lower() != JSON:
        shown = repr(given) if given else "none"
        raise RequestError(415, "BAD_REQUEST", f"Content-Type {shown}: send the body as {JSON}")


async def _read_body(request: Request, limit: int, errors: list[str]) -> bytes:
    """The body, refused with 413 as soon as it is known to pass ``limit`` (before reading it all)."""
    too_large = RequestError(
        413, "BAD_REQUEST", f"the request body is over {limit} bytes; send fewer rows per request"
    )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        errors.append(REQUEST_TOO_LARGE)
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            errors.append(REQUEST_TOO_LARGE)
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, default=str).encode(), status_code=status, media_type=JSON)
