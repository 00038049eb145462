"""Run a hyperparameter search: each trial a nested MLflow run, cross-validated on train.

It takes values (the plan, the base model spec, the training rows), never a job's contract: a
trial that cannot be built is a :class:`SearchError`, which the job turns into an error of its
``search`` parameter once.
"""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

from bricksml.errors import DataError, FeatureParamError, ModelParamError, SearchError
from bricksml.models.pipeline import ModelSpec, build_pipeline
from bricksml.models.search import SearchPlan, Trial
from bricksml.models.tasks import CLASSIFICATION
from bricksml.models.types import fit_params
from bricksml.progress import Progress


def folds_for(plan: SearchPlan, spec: ModelSpec, y: pd.Series) -> Any:
    """Stratified folds for classes (each fold sees every class), shuffled folds for a number."""
    if spec.task != CLASSIFICATION:
        if len(y) < plan.folds:
            raise DataError(f"search: {len(y)} training rows are too few for {plan.folds} folds")
        return KFold(n_splits=plan.folds, shuffle=True, random_state=spec.seed)
    smallest = int(y.value_counts().min())
    folds = min(plan.folds, smallest)
    if folds < 2:
        raise DataError(f"search: a class has {smallest} training row(s), too few to cross-validate")
    return StratifiedKFold(n_splits=folds, shuffle=True, random_state=spec.seed)


def run_search(
    plan: SearchPlan,
    spec: ModelSpec,
    x: pd.DataFrame,
    y: pd.Series,
    text_col: str | None,
    progress: Progress,
    timer: Any,
) -> Trial:
    """Cross-validate every trial in a nested run; return the best (ties: the earliest).

    ``spec`` is the model without the trials' parameters; ``x`` the training rows' feature
    columns, ``y`` their labels (classes as text, or numbers).
    """
    cv = folds_for(plan, spec, y)
    best: tuple[float, Trial] | None = None
    parent = mlflow.active_run()
    sign = -1.0 if plan.negated else 1.0  # scikit-learn negates errors: log them as they are
    for trial in plan.trials_iter(spec.seed):
        candidate = spec.with_trial(trial.model_params, trial.feature_params)
        try:
            pipeline = build_pipeline(candidate, x, list(x.columns), text_col)
        except (FeatureParamError, ModelParamError) as exc:
            raise SearchError(f"trial {trial.number}: {exc}") from None
        with timer("search"):
            scores = cross_validate(
                pipeline,
                x,
                y,
                cv=cv,
                scoring=plan.scorer,
                error_score="raise",
                params=fit_params(spec.model_type, y, spec.task),
            )
        score = float(np.mean(scores["test_score"]))  # higher is better, as scikit-learn scores
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
                    "folds": cv.get_n_splits(),
                }
            )
            mlflow.log_metrics(
                {
                    f"cv_{plan.metric}_mean": sign * score,
                    f"cv_{plan.metric}_std": float(np.std(scores["test_score"])),
                    "cv_fit_seconds": float(np.sum(scores["fit_time"])),
                }
            )
        progress.step(
            f"trial {trial.number}: cv {plan.metric} {sign * score:.4f} {trial.model_params} "
            f"{trial.feature_params}"
        )
        if best is None or score > best[0]:
            best = (score, trial)
    assert best is not None
    mlflow.log_metric(f"search_best_cv_{plan.metric}", sign * best[0])
    mlflow.set_tag("search.best_trial", str(best[1].number))
    return best[1]
