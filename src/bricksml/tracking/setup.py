"""Point MLflow at the right stores and find (or create) the experiment."""

from __future__ import annotations

import mlflow

from bricksml import runtime
from bricksml.tracking import ui_links

URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def configure() -> str:
    """Set the tracking and registry URIs for this environment; return the tracking URI.

    MLflow also exports what it is given as MLFLOW_TRACKING_URI and MLFLOW_REGISTRY_URI. Left
    there, the first store a process used would outrank every later BRICKSML_LOCAL_ROOT (data in
    one mirror, runs and models in another), so the environment stays as the user set it.
    """
    uri = runtime.tracking_uri()
    registry = runtime.registry_uri()
    with runtime.environment_kept(*URI_VARIABLES):
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(registry)
    return uri


def experiment_id(name: str) -> str:
    """The experiment's id, creating it when missing (artifacts beside a local SQLite store).

    A new experiment is marked as classic machine learning, for MLflow UIs that read the mark.
    """
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if runtime.tracking_uri().startswith("sqlite:"):
        slug = name.strip("/").replace("/", "__") or "default"
        location = f"{runtime.artifact_root()}/{slug}"
    try:
        return mlflow.create_experiment(
            name, artifact_location=location, tags=ui_links.experiment_kind_tags()
        )
    except mlflow.exceptions.MlflowException:  # created meanwhile by a concurrent run
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id
