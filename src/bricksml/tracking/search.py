"""Run a hyperparameter search: each trial a nested MLflow run, cross-validated on train."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, cross_validate

from bricksml.errors import DataError, FeatureParamError, ModelParamError
from bricksml.models.pipeline import ModelSpec, build_pipeline
from bricksml.models.search import SearchPlan, Trial
from bricksml.models.types import fit_params
from bricksml.progress import Progress

if TYPE_CHECKING:
    from bricksml.data.versions import DataVersion
    from bricksml.params.train import TrainParams


def run_search(
    plan: SearchPlan,
    params: TrainParams,
    version: DataVersion,
    train: pd.DataFrame,
    progress: Progress,
    timer: Any,
) -> Trial:
    """Cross-validate every trial in a nested run; return the best (ties: the earliest)."""
    x, y = train[version.feature_columns], train[version.label_col].astype(str)
    smallest = int(y.value_counts().min())
    folds = min(plan.folds, smallest)
    if folds < 2:
        raise DataError(f"search: a class has {smallest} training row(s), too few to cross-validate")
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=params.seed)
    best: tuple[float, Trial] | None = None
    parent = mlflow.active_run()
    for trial in plan.trials_iter(params.seed):
        spec = ModelSpec(
            params.model_type,
            {**params.model_params, **trial.model_params},
            {**params.feature_params, **trial.feature_params},
            params.seed,
        )
        try:
            pipeline = build_pipeline(spec, train, version.feature_columns, version.text_col)
        except (FeatureParamError, ModelParamError) as exc:
            params.fail(
                "search", f"a search whose trials are valid (trial {trial.number}: {exc})", params.search
            )
        with timer("search"):
            scores = cross_validate(
                pipeline,
                x,
                y,
                cv=cv,
                scoring=plan.metric,
                error_score="raise",
                params=fit_params(params.model_type, y),
            )
        mean = float(np.mean(scores["test_score"]))
        with (
            timer("mlflow"),
            mlflow.start_run(
                run_name=f"trial-{trial.number:03d}", nested=True, experiment_id=parent.info.experiment_id
            ),
        ):
            mlflow.log_params(
                {
                    **{f"model.{k}": v for k, v in trial.model_params.items()},
                    **{f"features.{k}": v for k, v in trial.feature_params.items()},
                    "trial": trial.number,
                    "folds": folds,
                }
            )
            mlflow.log_metrics(
                {
                    f"cv_{plan.metric}_mean": mean,
                    f"cv_{plan.metric}_std": float(np.std(scores["test_score"])),
                    "cv_fit_seconds": float(np.sum(scores["fit_time"])),
                }
            )
        progress.step(
            f"trial {trial.number}: cv {plan.metric} {mean:.4f} {trial.model_params} {trial.feature_params}"
        )
        if best is None or mean > best[0]:
            best = (mean, trial)
    assert best is not None
    mlflow.log_metric(f"search_best_cv_{plan.metric}", best[0])
    mlflow.set_tag("search.best_trial", str(best[1].number))
    return best[1]
