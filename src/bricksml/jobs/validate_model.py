"""The promotion gate, second task of train_models: challenger against champion, same split.

``enabled``: a version that reaches ``gate_min_f1`` becomes ``challenger``; if it is also at least
as good as the champion (within ``gate_max_drop``) it becomes ``champion``. ``dry_run`` records the
decision and moves nothing; ``disabled`` skips the comparison. The decision, the metrics and the
thresholds are recorded as tags on the model version either way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import mlflow

from bricksml import runtime
from bricksml.data.versions import open_version
from bricksml.errors import BricksmlError
from bricksml.models import evaluate
from bricksml.params.train import TrainParams
from bricksml.progress import SILENT, Progress
from bricksml.timing import Timer
from bricksml.tracking import modelstore, registry, setup
from bricksml.tracking.registry import CHALLENGER, CHAMPION

METRIC = "f1_macro"


@dataclass
class GateResult:
    """The gate's decision and the numbers behind it."""

    model_name: str
    model_version: str
    mode: str
    decision: str  # promoted | challenger | rejected | would_promote | would_reject | skipped
    promoted: bool
    reason: str
    split: str
    metric: str
    challenger_score: float | None
    champion_version: str | None
    champion_score: float | None
    min_f1: float
    max_drop: float
    aliases: dict[str, str]
    metrics: dict[str, float]
    seconds: dict[str, float] = field(default_factory=dict)  # "mlflow", "score", "total"

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["seconds"] = {k: round(v, 3) for k, v in self.seconds.items()}
        return out

    def tags(self) -> dict[str, str]:
        """The record on the model version: three tags, since each one is a registry round trip.

        Keys use underscores: Unity Catalog refuses '.' in tag keys. The record holds the summary
        metrics (per-class F1 is on the training run), so that it stays within a tag value's limit.
        """
        record = {
            "split": self.split,
            "metric": self.metric,
            "challenger": _rounded(self.challenger_score),
            "champion_version": self.champion_version,
            "champion": _rounded(self.champion_score),
            "mode": self.mode,
            "min_f1": self.min_f1,
            "max_drop": self.max_drop,
            "metrics": {
                k: round(v, 6) for k, v in sorted(self.metrics.items()) if not k.startswith("f1_class_")
            },
        }
        return {"gate_decision": self.decision, "gate_reason": self.reason, "gate_record": json.dumps(record)}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def version_to_validate(params: TrainParams, model_version: str | None = None) -> str:
    """The version trained by this job run (task value), or else the newest one."""
    number = model_version or runtime.get_task_value("train", "model_version")
    if number:
        return str(number)
    latest = registry.latest_version(params.registered_model_name)
    if latest is None:
        raise registry.RegistryError(
            f"model {params.registered_model_name} has no versions to validate (run the train task first)"
        )
    return str(latest.version)


def validate_model(
    params: TrainParams, model_version: str | None = None, progress: Progress = SILENT
) -> GateResult:
    """Judge one registered version against the champion and move the aliases as the mode says."""
    timer = Timer()
    name = params.registered_model_name
    with timer("mlflow"):
        setup.configure()
        number = version_to_validate(params, model_version)
        registry.version(name, number)  # a clear error when the version does not exist
    version = open_version(params.data_root, params.data_name, params.data_version)
    split = version.evaluation_split
    frame = version.read(split)
    x, y = frame[version.feature_columns], frame[version.label_col].astype(str)

    challenger_metrics = _score(f"models:/{name}/{number}", x, y, timer)
    score = challenger_metrics[METRIC]
    with timer("mlflow"):
        aliases = registry.aliases(name)
    champion_version = aliases.get(CHAMPION)
    champion_score = None
    if champion_version is not None and champion_version != number:
        champion_score = _score(f"models:/{name}/{champion_version}", x, y, timer)[METRIC]
    elif champion_version is not None:
        champion_score = score

    reaches_min = score >= params.gate_min_f1
    beats_champion = champion_score is None or score >= champion_score - params.gate_max_drop - 1e-12
    passed = reaches_min and beats_champion
    reason = _reason(score, reaches_min, beats_champion, champion_version, champion_score, params)
    progress.step(f"gate ({params.gate_mode}) on {split}: {reason}")

    moves: tuple[str, ...] = ()  # the aliases this version takes
    if params.gate_mode == "disabled":
        decision, reason = "skipped", "gate disabled: no comparison, no alias moved"
    elif params.gate_mode == "dry_run":
        decision = "would_promote" if passed else "would_reject"
    elif passed:
        decision, moves = "promoted", (CHALLENGER, CHAMPION)
    elif reaches_min:
        decision, moves = "challenger", (CHALLENGER,)
    else:
        decision = "rejected"

    with timer("mlflow"):
        for alias in moves:
            registry.set_alias(name, alias, number)
            aliases[alias] = number
        result = GateResult(
            model_name=name,
            model_version=number,
            mode=params.gate_mode,
            decision=decision,
            promoted=decision == "promoted",
            reason=reason,
            split=split,
            metric=METRIC,
            challenger_score=score,
            champion_version=champion_version,
            champion_score=champion_score,
            min_f1=params.gate_min_f1,
            max_drop=params.gate_max_drop,
            aliases=aliases,
            metrics=challenger_metrics,
        )
        registry.tag_version(name, number, result.tags())
    runtime.set_task_value("gate_decision", decision)
    result.seconds = timer.stop()
    return result


def _score(model_uri: str, x: Any, y: Any, timer: Timer) -> dict[str, float]:
    try:
        with timer("mlflow"):
            model = modelstore.load(model_uri)
    except mlflow.exceptions.MlflowException as exc:
        raise BricksmlError(f"cannot load {model_uri}: {str(exc).splitlines()[0]}") from None
    with timer("score"):
        proba = model.predict_proba(x)
        return evaluate.classification_metrics(y, proba, [str(c) for c in model.classes_])


def _reason(
    score: float,
    reaches_min: bool,
    beats_champion: bool,
    champion_version: str | None,
    champion_score: float | None,
    params: TrainParams,
) -> str:
    parts = [f"macro-F1 {score:.4f} {'>=' if reaches_min else '<'} minimum {params.gate_min_f1:g}"]
    if champion_score is None:
        parts.append("no champion yet")
    else:
        relation = "within" if beats_champion else "worse than"
        drop = params.gate_max_drop
        parts.append(f"{relation} champion v{champion_version} ({champion_score:.4f}, allowed drop {drop:g})")
    return "; ".join(parts)
