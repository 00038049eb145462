"""Who answers a prediction: the serving endpoint when one is configured, else the model loaded here.

Both give the same frame: ``prediction``, and for a classifier one ``probability_<class>`` column
per class when the answer holds them (a Databricks endpoint answers with the classes only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from bricksml.app.model_card import ModelCard
from bricksml.app.settings import AppSettings
from bricksml.errors import BricksmlError, DataError, first_line
from bricksml.models import evaluate

PREDICTION = "prediction"
PROBABILITY = "probability_"
#: Seconds a request to the endpoint may take (a cold Databricks endpoint needs a while).
TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Answer:
    """Predictions for the rows asked, and who answered them."""

    frame: pd.DataFrame  # prediction (+ probability_<class>), one row per input row
    served_by: str  # "model v3 loaded by the app" | "endpoint <name> (v3)"
    version: str  # the version that answered, when known

    @property
    def classes(self) -> list[str]:
        return [c[len(PROBABILITY) :] for c in self.frame.columns if c.startswith(PROBABILITY)]


class Predictor(Protocol):
    def predict(self, rows: pd.DataFrame) -> Answer: ...


class LoadedModel:
    """The pipeline of one version, loaded by this process."""

    def __init__(self, card: ModelCard, pipeline: Any) -> None:
        self.card = card
        self.pipeline = pipeline

    def predict(self, rows: pd.DataFrame) -> Answer:
        features = rows[list(self.card.columns)]
        try:
            if self.card.regression:
                frame = pd.DataFrame({PREDICTION: np.asarray(self.pipeline.predict(features), dtype=float)})
            else:
                proba = self.pipeline.predict_proba(features)
                classes = [str(c) for c in self.pipeline.classes_]
                frame = probabilities_frame(evaluate.predictions(proba, classes), proba, classes)
        except ValueError as exc:
            raise DataError(f"the model cannot score these rows: {first_line(exc)}") from None
        return Answer(frame, f"{self.card.name} v{self.card.version}, loaded by the app", self.card.version)


class Endpoint:
    """A Model Serving endpoint: a `bricksml serve` URL, or the workspace's endpoint through the SDK."""

    def __init__(self, settings: AppSettings, card: ModelCard) -> None:
        self.settings = settings
        self.card = card

    def predict(self, rows: pd.DataFrame) -> Answer:
        split = json.loads(rows[list(self.card.columns)].to_json(orient="split", index=False))
        body = {"dataframe_split": {"columns": split["columns"], "data": split["data"]}}
        if self.settings.serving_url:
            answer = self._post(body)
        else:
            answer = self._query(body)
        predictions = answer.get("predictions")
        if not isinstance(predictions, list) or len(predictions) != len(rows):
            raise BricksmlError(
                f"{self._where()} answered without one prediction per row; check the endpoint"
            )
        version = str(answer.get("served_model_version") or "")
        probabilities = answer.get("probabilities")
        if self.card.regression:
            frame = pd.DataFrame({PREDICTION: pd.to_numeric(pd.Series(predictions), errors="coerce")})
        elif isinstance(probabilities, list) and len(probabilities) == len(rows):
            classes = [str(c) for c in (probabilities[0] if probabilities else {})]
            proba = np.array([[row.get(c, np.nan) for c in classes] for row in probabilities], dtype=float)
            frame = probabilities_frame(np.asarray([str(p) for p in predictions]), proba, classes)
        else:
            frame = pd.DataFrame({PREDICTION: [str(p) for p in predictions]})
        shown = f" (v{version})" if version else ""
        return Answer(frame, f"endpoint {self.settings.serving_endpoint}{shown}", version)

    def _where(self) -> str:
        return f"serving endpoint {self.settings.serving_endpoint!r}"

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        url = f"{self.settings.serving_url}/serving-endpoints/{self.settings.serving_endpoint}/invocations"
        if not self.card.regression:
            body = {**body, "params": {"probabilities": True}}
        try:
            response = httpx.post(url, json=body, timeout=TIMEOUT_SECONDS)
        except httpx.HTTPError as exc:
            raise BricksmlError(
                f"the {self._where()} at {self.settings.serving_url} does not answer ({first_line(exc)});"
                " start it with `bricksml serve`, or start the app without --serving-url"
            ) from None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code >= 400 or not isinstance(answer, dict):
            message = answer.get("message") if isinstance(answer, dict) else None
            raise BricksmlError(
                f"the {self._where()} refused the request (HTTP {response.status_code}): "
                f"{message or response.text[:200]}"
            )
        return answer

    def _query(self, body: dict[str, Any]) -> dict[str, Any]:
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.errors import DatabricksError
        from databricks.sdk.service.serving import DataframeSplitInput

        split = body["dataframe_split"]
        try:
            response = WorkspaceClient().serving_endpoints.query(
                self.settings.serving_endpoint,
                dataframe_split=DataframeSplitInput(columns=split["columns"], data=split["data"]),
            )
        except DatabricksError as exc:
            raise BricksmlError(f"the {self._where()} refused the request: {first_line(exc)}") from None
        return {"predictions": response.predictions}


def probabilities_frame(predicted: np.ndarray, proba: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """The answer frame of a classifier: the predicted class, then one probability column per class."""
    columns: dict[str, Any] = {PREDICTION: [str(p) for p in predicted]}
    for index, label in enumerate(classes):
        columns[f"{PROBABILITY}{label}"] = proba[:, index]
    return pd.DataFrame(columns)


def served_version(settings: AppSettings) -> str | None:
    """The version the endpoint serves now, as it says itself; None when it cannot tell."""
    if not settings.uses_endpoint:
        return None
    try:
        if settings.serving_url:
            import httpx

            ready = httpx.get(f"{settings.serving_url}/ready", timeout=5.0).json()
            return str(ready.get("served_model_version") or "") or None
        from databricks.sdk import WorkspaceClient

        endpoint = WorkspaceClient().serving_endpoints.get(settings.serving_endpoint)
        entities = (endpoint.config.served_entities if endpoint.config else None) or []
        versions = sorted({str(e.entity_version) for e in entities if e.entity_version})
        return ", ".join(versions) or None
    except Exception:  # an endpoint that cannot be asked: the page says so instead
        return None
