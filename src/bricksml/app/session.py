"""What every page shares in one run of the script: the settings, the chosen model, cached loads.

Loads are cached per tracking store and model URI (a fitted pipeline, a train split's statistics),
so a rerun after each click costs a registry look-up, not a model load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from bricksml import runtime
from bricksml.app import training_stats
from bricksml.app.files import Files, files
from bricksml.app.model_card import ModelCard
from bricksml.app.predictors import Endpoint, LoadedModel, Predictor
from bricksml.app.settings import AppSettings
from bricksml.tracking import modelstore
from bricksml.tracking.model_refs import VersionRef


@dataclass(frozen=True)
class Session:
    settings: AppSettings
    model_name: str

    @property
    def files(self) -> Files:
        return files(self.settings.files)

    def predictor(self, card: ModelCard) -> Predictor:
        """The endpoint when one is configured, else the version loaded here."""
        if self.settings.uses_endpoint:
            return Endpoint(self.settings, card)
        return LoadedModel(card, self.pipeline(card.resolved.load_uri))

    def pipeline(self, load_uri: str) -> Any:
        return _pipeline(_store(), load_uri)

    def version_pipeline(self, card: ModelCard, version: str) -> Any:
        """The pipeline of another version of the card's model (the one an endpoint served)."""
        if not version or version == card.version:
            return self.pipeline(card.resolved.load_uri)
        return self.pipeline(str(VersionRef(card.name, version)))

    def stats(self, card: ModelCard) -> training_stats.TrainingStats | None:
        return _stats(
            _store(),
            self.settings.files,
            self.settings.data_root,
            card.tag("data_name"),
            card.tag("data_version"),
            tuple(card.columns),
        )


def _store() -> str:
    """What the caches are keyed by besides the URI: the tracking store and the local mirror."""
    return f"{runtime.tracking_uri()} {runtime.local_root()}"


@st.cache_resource(show_spinner="Loading the model...", max_entries=8)
def _pipeline(store: str, load_uri: str) -> Any:
    """A registered version's pipeline, loaded as every bricksml loader loads it (never a pickle)."""
    return modelstore.load(load_uri, permission=None)


@st.cache_data(show_spinner="Reading the training data...", max_entries=16)
def _stats(
    store: str, mode: str, data_root: str, data_name: str, data_version: str, columns: tuple[str, ...]
) -> training_stats.TrainingStats | None:
    return training_stats.read(files(mode), data_root, data_name, data_version, list(columns))
