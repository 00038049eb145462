"""What the app is pointed at, read from its environment: the one place that names its variables.

``bricksml app`` sets them for the Streamlit process from its flags; on Databricks the app
resource's ``config.env`` sets them (the endpoint's name comes from the app's resource).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bricksml.errors import BricksmlError
from bricksml.params import InferenceParams

PREFIX = "BRICKSML_APP_"
MODEL_NAME = PREFIX + "MODEL_NAME"
MODEL_ALIAS = PREFIX + "MODEL_ALIAS"
SERVING_URL = PREFIX + "SERVING_URL"
SERVING_ENDPOINT = PREFIX + "SERVING_ENDPOINT"
DATA_ROOT = PREFIX + "DATA_ROOT"
OUTPUT_ROOT = PREFIX + "OUTPUT_ROOT"
FILES = PREFIX + "FILES"
#: How the app reads the volumes: as files (locally, the mirror), or through the Files API (a
#: Databricks App has no /Volumes mount; its service principal reads what the app resource grants).
FILES_LOCAL, FILES_API = "local", "files_api"


@dataclass(frozen=True)
class AppSettings:
    """The model to show, where to ask for predictions, and where the data and outputs live."""

    model_name: str = ""  # empty: the user picks among the registered models
    model_alias: str = InferenceParams.default_strings()["model_alias"]
    serving_url: str = ""  # a `bricksml serve` (or any Model Serving REST) base URL
    serving_endpoint: str = ""  # the endpoint's name
    data_root: str = InferenceParams.default_strings()["data_root"]
    output_root: str = ""  # empty: the inference job's default beside data_root
    files: str = FILES_LOCAL

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AppSettings:
        env = os.environ if environ is None else environ
        defaults = cls()
        files = env.get(FILES, "").strip() or FILES_LOCAL
        if files not in (FILES_LOCAL, FILES_API):
            raise BricksmlError(f"{FILES} must be {FILES_LOCAL!r} or {FILES_API!r}; got {files!r}")
        return cls(
            model_name=env.get(MODEL_NAME, "").strip(),
            model_alias=env.get(MODEL_ALIAS, "").strip() or defaults.model_alias,
            serving_url=env.get(SERVING_URL, "").strip().rstrip("/"),
            serving_endpoint=env.get(SERVING_ENDPOINT, "").strip(),
            data_root=env.get(DATA_ROOT, "").strip() or defaults.data_root,
            output_root=env.get(OUTPUT_ROOT, "").strip(),
            files=files,
        )

    def to_env(self) -> dict[str, str]:
        """The variables that make :meth:`from_env` give these settings back (empty ones left out)."""
        values = {
            MODEL_NAME: self.model_name,
            MODEL_ALIAS: self.model_alias,
            SERVING_URL: self.serving_url,
            SERVING_ENDPOINT: self.serving_endpoint,
            DATA_ROOT: self.data_root,
            OUTPUT_ROOT: self.output_root,
            FILES: self.files,
        }
        return {key: value for key, value in values.items() if value}

    @property
    def uses_endpoint(self) -> bool:
        """Predictions come from a serving endpoint (else the app loads the model itself)."""
        return bool(self.serving_endpoint)

    def output_location(self, model_name: str, data_name: str, data_version: str) -> str:
        """Where the inference job (and the monitor, beside it) writes for this model and its data."""
        values = {
            "data_root": self.data_root,
            "output_root": self.output_root,
            "model_name": model_name,
            "data_name": data_name,
            "data_version": data_version,
        }
        return InferenceParams.parse(values).output_location
