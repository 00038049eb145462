"""Addresses in the MLflow UI that open on the classic runs table, and the tag that says why.

MLflow 3's UI serves two workflows: GenAI (traces, evaluations) and machine learning (runs,
models). As read in the UI bundled with MLflow 3.17: the workflow comes from the URL's
``workflowType`` query parameter, else from the browser's stored choice
(``localStorage["mlflow.workflowType"]``), else GenAI; an experiment page without a tab then
redirects to the GenAI overview, or to the runs tab for machine learning. So a new user who opens
``http://127.0.0.1:5000`` lands on GenAI pages; the links here name the workflow and the tab, and
the UI keeps ``workflowType`` in the URL as one moves between tabs.

Earlier MLflow 3 releases decided the same per experiment, from its ``mlflow.experimentKind`` tag
(``custom_model_development`` or ``genai_development``; a user was asked to choose when it was
missing); 3.17's bundle still holds that code, switched off by a feature flag.
:func:`experiment_kind_tags` is that tag, for the code that creates the experiments: harmless
where the URL decides, and what a UI that reads the tag needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:  # the URL builders need no MLflow import (a second or two)
    from mlflow.entities import Experiment
    from mlflow.tracking import MlflowClient

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CLASSIC_ML_KIND = "custom_model_development"
WORKFLOW_QUERY = "workflowType=machine_learning"
#: The placeholder a default experiment path holds (``/Shared/bricksml/{data_name}``).
DATA_NAME = "{data_name}"


def experiment_kind_tags() -> dict[str, str]:
    """The experiment tag that marks a training experiment as classic ML for MLflow 3's UI."""
    return {EXPERIMENT_KIND_TAG: CLASSIC_ML_KIND}


def base_url(host: str, port: int) -> str:
    """The address a browser on this machine uses; a wildcard listen address is not one."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def experiments_url(base: str) -> str:
    """The experiment list, in the machine-learning workflow."""
    return f"{base.rstrip('/')}/#/experiments?{WORKFLOW_QUERY}"


def experiment_runs_url(base: str, experiment_id: str) -> str:
    """The runs table of one experiment (the page the UI would otherwise bury under GenAI)."""
    return f"{base.rstrip('/')}/#/experiments/{quote(str(experiment_id), safe='')}/runs?{WORKFLOW_QUERY}"


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    """One run's page: parameters, metrics, artifacts (the plots)."""
    eid, rid = quote(str(experiment_id), safe=""), quote(str(run_id), safe="")
    return f"{base.rstrip('/')}/#/experiments/{eid}/runs/{rid}?{WORKFLOW_QUERY}"


def model_version_url(base: str, model_name: str, version: str) -> str:
    """One registered model version: its aliases, tags (the gate's record) and source run."""
    name, number = quote(model_name, safe=""), quote(str(version), safe="")
    return f"{base.rstrip('/')}/#/models/{name}/versions/{number}?{WORKFLOW_QUERY}"


def find_experiment(client: MlflowClient, name: str, runs: str = "") -> Experiment | None:
    """The live experiment called ``name``, or None.

    With a ``{data_name}`` placeholder: of the experiments whose name fits it, the one with the
    newest run that matches the filter ``runs`` (e.g. training runs, not the inference
    experiment's, whose name may fit too); without ``runs``, the newest experiment when none has runs.
    """
    if DATA_NAME not in name:
        experiment = client.get_experiment_by_name(name)
        return experiment if experiment is not None and experiment.lifecycle_stage == "active" else None
    prefix, _, suffix = name.partition(DATA_NAME)
    # LIKE narrows the search in the store; its wildcards ('_' is one) are checked exactly below.
    like = "" if "'" in prefix else f"name LIKE '{prefix}%'"
    candidates = [e for e in _experiments(client, like) if _fits(e.name, prefix, suffix)]
    found = _with_newest_run(client, candidates, runs)
    return found if found is not None or runs or not candidates else candidates[0]


def experiment_of_newest_run(client: MlflowClient, runs: str) -> Experiment | None:
    """Of all live experiments, the one that holds the newest run matching the filter ``runs``.

    What "the experiment I trained in" means whatever its name: the bundle's dev target trains
    under the user's folder, ``bricksml train`` under ``/Shared``.
    """
    return _with_newest_run(client, _experiments(client), runs)


def _experiments(client: MlflowClient, filter_string: str = "") -> list[Experiment]:
    """Live experiments, newest first, every page of them."""
    found, token = [], None
    while True:
        page = client.search_experiments(
            filter_string=filter_string, order_by=["creation_time DESC"], max_results=1000, page_token=token
        )
        found.extend(page)
        token = page.token
        if not token:
            return found


def _with_newest_run(client: MlflowClient, experiments: list[Experiment], runs: str) -> Experiment | None:
    if not experiments:
        return None
    newest = client.search_runs(
        [e.experiment_id for e in experiments],
        filter_string=runs,
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not newest:
        return None
    return next(e for e in experiments if e.experiment_id == newest[0].info.experiment_id)


def _fits(name: str, prefix: str, suffix: str) -> bool:
    """``name`` is ``prefix + <one path segment> + suffix``."""
    if len(name) <= len(prefix) + len(suffix) or not (name.startswith(prefix) and name.endswith(suffix)):
        return False
    return "/" not in name[len(prefix) : len(name) - len(suffix)]
