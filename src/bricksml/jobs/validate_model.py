"""The promotion gate, second task of train_models: challenger against champion, same split.

``enabled``: a version becomes ``challenger`` when it reaches ``gate_min_f1`` and beats the best
trivial baseline on the split by ``gate_baseline_margin``. It becomes ``champion`` too when the
paired-bootstrap interval of (challenger - champion) lies above ``-gate_max_drop``; when the
interval cannot tell the two apart the champion stays (``gate_tie=promote`` promotes on the point
estimate instead). Only classes with rows in the split are scored, and the record names the
others. ``dry_run`` records the decision and moves nothing; ``disabled`` skips the comparison.
The decision, the numbers and the thresholds are recorded as tags on the model version either way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from bricksml import runtime
from bricksml.data.versions import open_version
from bricksml.errors import BricksmlError, RegistryError, first_line
from bricksml.models import compare, evaluate
from bricksml.params.train import TrainParams
from bricksml.progress import SILENT, Progress
from bricksml.timing import Timer
from bricksml.tracking import modelstore, registry, setup
from bricksml.tracking.model_refs import VersionRef
from bricksml.tracking.registry import CHALLENGER, CHAMPION

METRIC = "f1_macro"
#: Names of absent classes kept in the record; a tag value holds at most 1000 characters.
_ABSENT_LISTED = 10


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
    baseline: dict[str, float] = field(default_factory=dict)  # most_frequent, stratified, margin, required
    comparison: dict[str, Any] | None = None  # challenger - champion, with its interval
    absent_classes: list[str] = field(default_factory=list)  # the model's classes with no row in the split
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
        absent = self.absent_classes
        record = {
            "decision": self.decision,
            "split": self.split,
            "metric": self.metric,
            "challenger": _rounded(self.challenger_score),
            "champion_version": self.champion_version,
            "champion": _rounded(self.champion_score),
            "mode": self.mode,
            "min_f1": self.min_f1,
            "max_drop": self.max_drop,
            "baseline": {k: _rounded(v) for k, v in self.baseline.items()},
            "comparison": self.comparison,
            "classes_absent": {"count": len(absent), "names": [n[:40] for n in absent[:_ABSENT_LISTED]]},
            "metrics": {
                k: round(v, 6)
                for k, v in sorted(self.metrics.items())
                if not k.startswith("f1_class_") and not k.startswith(("precision_", "recall_"))
            },
        }
        return {
            registry.GATE_DECISION: self.decision,
            "gate_reason": self.reason,
            registry.GATE_RECORD: json.dumps(record),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def version_to_validate(params: TrainParams, model_version: str | None = None) -> str:
    """The version trained by this job run (task value), or else the newest one."""
    number = model_version or runtime.get_task_value("train", "model_version")
    if number:
        return str(number)
    latest = registry.latest_version(params.registered_model_name)
    if latest is None:
        raise RegistryError(
            f"model {params.registered_model_name} has no versions to validate (run the train task first)"
        )
    return str(latest.version)


def validate_model(
    params: TrainParams, model_version: str | None = None, progress: Progress = SILENT
) -> GateResult:
    """Judge one registered version against the champion and move the aliases as the mode says.

    The champion may change while this gate scores (another train of the same model): the move
    re-reads it under the model's lock and judges again against the new one (compare-and-set).
    """
    timer = Timer()
    name = params.registered_model_name
    with timer("mlflow"):
        setup.configure()
        number = version_to_validate(params, model_version)
        registered = registry.version(name, number)  # a clear error when the version does not exist
        for line in registry.settle_interrupted_gates(name):
            progress.step(line)
        training = registry.run_status(registered.run_id)
    version = open_version(params.data_root, params.data_name, params.data_version)
    split = version.evaluation_split
    frame = version.read(split)
    x, y = frame[version.feature_columns], frame[version.label_col].astype(str)
    train_labels = pd.read_parquet(version.split_file("train"), columns=[version.label_col])
    context = _Context(params, name, number, split, x, y, train_labels[version.label_col].astype(str), timer)
    context.scored[number] = _score(str(VersionRef(name, number)), x, y, timer)

    for _ in range(_ATTEMPTS):
        with timer("mlflow"):
            aliases = registry.aliases(name)
        result, moves = _judge(context, aliases, training)
        with timer("mlflow"), registry.model_lock(name):
            now = registry.aliases(name)
            if now.get(CHAMPION) != aliases.get(CHAMPION):
                progress.step(f"champion moved to v{now.get(CHAMPION)} meanwhile: judging again")
                continue
            _apply(result, moves)
        break
    else:
        raise RegistryError(
            f"model {name}: the champion moved during each of {_ATTEMPTS} judgements of v{number}; retry"
        )
    progress.step(f"gate ({params.gate_mode}) on {split}: {result.reason}")
    runtime.set_task_value("gate_decision", result.decision)
    result.seconds = timer.stop()
    return result


#: Judgements of one version before the gate gives up on a champion that keeps moving.
_ATTEMPTS = 5


@dataclass
class _Context:
    """What every judgement of one version shares: the split's rows and the models' predictions."""

    params: TrainParams
    name: str
    number: str
    split: str
    x: pd.DataFrame
    y: pd.Series
    train_labels: pd.Series
    timer: Timer
    scored: dict[str, _Scored] = field(default_factory=dict)

    def score(self, number: str) -> _Scored:
        if number not in self.scored:
            self.scored[number] = _score(str(VersionRef(self.name, number)), self.x, self.y, self.timer)
        return self.scored[number]


def _judge(context: _Context, aliases: dict[str, str], training: str) -> tuple[GateResult, tuple[str, ...]]:
    """The decision against the champion of ``aliases``, and the aliases the version would take."""
    params, number, y = context.params, context.number, context.y
    challenger = context.scored[number]
    score = challenger.metrics[METRIC]
    absent = evaluate.absent_classes(y, challenger.classes)
    base = compare.baselines(METRIC, context.train_labels, y, challenger.classes)
    baseline = {
        **base,
        "margin": params.gate_baseline_margin,
        "required": max(base.values()) + params.gate_baseline_margin,
    }
    champion_version = aliases.get(CHAMPION)
    champion_score, comparison, verdict = None, None, "no champion"
    if champion_version == number:
        champion_score, verdict = score, "is champion"
    elif champion_version is not None:
        champion = context.score(champion_version)
        champion_score = champion.metrics[METRIC]
        with context.timer("score"):
            comparison = compare.paired_bootstrap(
                METRIC,
                y,
                challenger.predictions,
                champion.predictions,
                challenger.classes,
                confidence=params.gate_confidence,
                seed=params.seed,
            )
        verdict = _verdict(comparison, params.gate_max_drop)

    finished = training == "FINISHED"
    qualifies = finished and score >= params.gate_min_f1 and score >= baseline["required"] - 1e-12
    beats_champion = verdict in ("no champion", "is champion", "better") or (
        verdict == "indistinguishable"
        and params.gate_tie == "promote"
        and comparison is not None
        and comparison.difference >= -params.gate_max_drop - 1e-12
    )
    passed = qualifies and beats_champion
    reason = _reason(score, base, baseline, champion_version, champion_score, comparison, verdict, params)
    if absent:
        reason += (
            f"; scored on the {len(challenger.classes) - len(absent)} of {len(challenger.classes)} "
            f"classes with rows in {context.split} (no rows: {', '.join(absent[:_ABSENT_LISTED])})"
        )
    if not finished:
        reason = f"its training run did not finish (status {training}): never promoted; " + reason

    moves: tuple[str, ...] = ()  # the aliases this version takes
    if params.gate_mode == "disabled":
        decision, reason = "skipped", "gate disabled: no comparison, no alias moved"
    elif params.gate_mode == "dry_run":
        decision = "would_promote" if passed else "would_reject"
    elif passed:
        decision, moves = "promoted", (CHALLENGER, CHAMPION)
    elif qualifies:
        decision, moves = "challenger", (CHALLENGER,)
    else:
        decision = "rejected"
    after = {**aliases, **{alias: number for alias in moves}}
    result = GateResult(
        model_name=context.name,
        model_version=number,
        mode=params.gate_mode,
        decision=decision,
        promoted=decision == "promoted",
        reason=reason,
        split=context.split,
        metric=METRIC,
        challenger_score=score,
        champion_version=champion_version,
        champion_score=champion_score,
        min_f1=params.gate_min_f1,
        max_drop=params.gate_max_drop,
        aliases=after,
        metrics=challenger.metrics,
        baseline=baseline,
        comparison=None if comparison is None else {**comparison.to_dict(), "verdict": verdict},
        absent_classes=absent,
    )
    return result, moves


def _apply(result: GateResult, moves: tuple[str, ...]) -> None:
    """Record, move, confirm: a gate killed half-way leaves a ``pending`` decision, never a silent one.

    The record (with the decision it is about to carry out) is written first, with the decision
    tag ``pending``; then the aliases move; then the decision tag says what was done. The next gate
    of the model settles a ``pending`` version (:func:`registry.settle_interrupted_gates`).
    """
    tags = result.tags()
    registry.tag_version(
        result.model_name, result.model_version, {**tags, registry.GATE_DECISION: registry.PENDING}
    )
    for alias in moves:
        registry.set_alias(result.model_name, alias, result.model_version)
    registry.tag_version(result.model_name, result.model_version, {registry.GATE_DECISION: result.decision})


@dataclass(frozen=True)
class _Scored:
    metrics: dict[str, float]
    predictions: np.ndarray
    classes: list[str]


def _score(model_uri: str, x: Any, y: Any, timer: Timer) -> _Scored:
    try:
        with timer("mlflow"):
            model = modelstore.load(model_uri, permission=None)  # the gate never promotes a pickle
    except mlflow.exceptions.MlflowException as exc:
        raise BricksmlError(f"cannot load {model_uri}: {first_line(exc)}") from None
    with timer("score"):
        proba = model.predict_proba(x)
        classes = [str(c) for c in model.classes_]
        metrics = evaluate.classification_metrics(y, proba, classes)
        return _Scored(metrics, evaluate.predictions(proba, classes), classes)


def _verdict(comparison: compare.Comparison, max_drop: float) -> str:
    """Non-inferiority by ``max_drop``: better when the whole interval is above ``-max_drop``."""
    if comparison.low > -max_drop:
        return "better"
    if comparison.high < -max_drop:
        return "worse"
    return "indistinguishable"


def _reason(
    score: float,
    base: dict[str, float],
    baseline: dict[str, float],
    champion_version: str | None,
    champion_score: float | None,
    comparison: compare.Comparison | None,
    verdict: str,
    params: TrainParams,
) -> str:
    minimum = params.gate_min_f1
    parts = [f"macro-F1 {score:.4f} {'>=' if score >= minimum else '<'} minimum {minimum:g}"]
    best = max(base, key=base.__getitem__)
    lead = "beats" if score >= baseline["required"] - 1e-12 else "does not beat"
    names = {"most_frequent": "most frequent class", "stratified": "stratified guess"}
    parts.append(
        f"{lead} baseline ({names.get(best, best)}) {base[best]:.4f} + margin {baseline['margin']:g}"
        f" = {baseline['required']:.4f}"
    )
    if champion_version is None:
        parts.append("no champion yet")
    elif comparison is None:
        parts.append(f"already champion (v{champion_version})")
    else:
        interval = (
            f"difference {comparison.difference:+.4f}, {comparison.confidence:.0%} interval "
            f"[{comparison.low:+.4f}, {comparison.high:+.4f}], allowed drop {params.gate_max_drop:g}"
        )
        relation = {
            "better": "better than",
            "worse": "worse than",
            "indistinguishable": "not distinguishable from",
        }[verdict]
        parts.append(f"{relation} champion v{champion_version} ({champion_score:.4f}; {interval})")
        if verdict == "indistinguishable":
            parts.append(
                "challenger promoted on the point estimate (gate_tie=promote)"
                if params.gate_tie == "promote"
                else "champion kept (gate_tie=keep_champion)"
            )
    return "; ".join(parts)
