"""The promotion gate, second task of train_models: challenger against champion, same split.

It compares on ``gate_metric`` (macro-F1 for a classifier, RMSE for a regressor unless set; each
metric knows whether higher or lower is better). ``enabled``: a version becomes ``challenger``
when it reaches the threshold (``gate_min`` for a score, ``gate_min_f1`` for an F1; ``gate_max``
for an error) and beats the best trivial baseline on the split by ``gate_baseline_margin`` (most
frequent class or stratified guess; the train labels' mean or median). It becomes ``champion`` too
when the paired-bootstrap interval of (challenger - champion) shows it no worse than
``gate_max_drop`` allows; when the interval cannot tell the two apart the champion stays
(``gate_tie=promote`` promotes on the point estimate instead). Only classes with rows in the
split are scored, and the record names the others. ``dry_run`` records the decision and moves
nothing; ``disabled`` skips the comparison. The decision, the numbers, the metric and its direction
are recorded as tags on the model version either way.
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
from bricksml.jobs.train_models import target
from bricksml.models import compare, evaluate, tasks
from bricksml.params.train import TrainParams
from bricksml.progress import SILENT, Progress
from bricksml.timing import Timer
from bricksml.tracking import modelstore, registry, setup
from bricksml.tracking.model_refs import VersionRef
from bricksml.tracking.registry import CHALLENGER, CHAMPION

#: The classifier's default metric (the regressor's is ``rmse``): see ``TrainParams.gate_metric_for``.
METRIC = tasks.DEFAULT_METRIC[tasks.CLASSIFICATION]
#: Names of absent classes kept in the record; a tag value holds at most 1000 characters.
_ABSENT_LISTED = 10
_BASELINES = {
    "most_frequent": "most frequent class",
    "stratified": "stratified guess",
    "mean": "mean of the train labels",
    "median": "median of the train labels",
}


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
    min_f1: float | None  # the minimum of an F1 metric (gate_min, else gate_min_f1); None otherwise
    max_drop: float
    aliases: dict[str, str]
    metrics: dict[str, float]
    task: str = tasks.CLASSIFICATION
    direction: str = tasks.HIGHER  # which way ``metric`` gets better
    threshold: float | None = None  # the level it must reach: a minimum, or for an error a maximum
    baseline: dict[str, float] = field(default_factory=dict)  # the baselines, margin, required
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
        level = "max" if self.direction == tasks.LOWER else "min"
        record = {
            "decision": self.decision,
            "split": self.split,
            "task": self.task,
            "metric": self.metric,
            "direction": f"{self.direction} is better",
            "challenger": _rounded(self.challenger_score),
            "champion_version": self.champion_version,
            "champion": _rounded(self.champion_score),
            "mode": self.mode,
            level: self.threshold,
            **({"min_f1": self.min_f1} if self.min_f1 is not None else {}),
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
    context = _context(params, name, number, timer)
    context.scored[number] = context.score(number)

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
    progress.step(f"gate ({params.gate_mode}) on {context.split}: {result.reason}")
    runtime.set_task_value("gate_decision", result.decision)
    result.seconds = timer.stop()
    return result


#: Judgements of one version before the gate gives up on a champion that keeps moving.
_ATTEMPTS = 5


@dataclass(frozen=True)
class _Scored:
    metrics: dict[str, float]
    predictions: np.ndarray  # classes, or numbers
    classes: list[str]


@dataclass
class _Context:
    """What every judgement of one version shares: the split's rows and the models' predictions."""

    params: TrainParams
    name: str
    number: str
    task: str
    metric: str
    split: str
    x: pd.DataFrame
    y: pd.Series
    train_labels: pd.Series
    timer: Timer
    scored: dict[str, _Scored] = field(default_factory=dict)

    def score(self, number: str) -> _Scored:
        if number not in self.scored:
            uri = str(VersionRef(self.name, number))
            self.scored[number] = _score(uri, self.x, self.y, self.task, self.timer)
        return self.scored[number]


def _context(params: TrainParams, name: str, number: str, timer: Timer) -> _Context:
    """The split the gate judges on (holdout, else test), its labels and the train labels."""
    version = open_version(params.data_root, params.data_name, params.data_version)
    task = params.task_for(tasks.of_manifest(version.manifest), f"{version.name}/{version.version}")
    split = version.evaluation_split
    frame = version.read(split)
    train = pd.read_parquet(version.split_file("train"), columns=[version.label_col])[version.label_col]
    return _Context(
        params=params,
        name=name,
        number=number,
        task=task,
        metric=params.gate_metric_for(task),
        split=split,
        x=frame[version.feature_columns],
        y=target(frame[version.label_col], task),
        train_labels=target(train, task),
        timer=timer,
    )


def _judge(context: _Context, aliases: dict[str, str], training: str) -> tuple[GateResult, tuple[str, ...]]:
    """The decision against the champion of ``aliases``, and the aliases the version would take."""
    params, number, y, metric = context.params, context.number, context.y, context.metric
    challenger = context.scored[number]
    score = _metric_of(context, challenger)
    lower = tasks.direction(metric) == tasks.LOWER
    absent = evaluate.absent_classes(y, challenger.classes) if challenger.classes else []
    if challenger.classes:
        base = compare.baselines(metric, context.train_labels, y, challenger.classes)
    else:
        base = compare.regression_baselines(metric, context.train_labels, y)
    margin = params.gate_baseline_margin
    if lower:  # an error: the margin is a share of the best baseline's error
        required = min(base.values()) * (1.0 - margin)
    else:
        required = max(base.values()) + margin
    baseline = {**base, "margin": margin, "required": required}
    threshold = params.gate_threshold(metric)

    champion_version = aliases.get(CHAMPION)
    champion_score, comparison, verdict, allowed = None, None, "no champion", params.gate_max_drop
    if champion_version == number:
        champion_score, verdict = score, "is champion"
    elif champion_version is not None:
        champion = context.score(champion_version)
        champion_score = _metric_of(context, champion)
        allowed = params.gate_max_drop * champion_score if metric in tasks.ERROR_METRICS else allowed
        with context.timer("score"):
            comparison = _compare(context, challenger, champion)
        verdict = _verdict(comparison, allowed, lower)

    finished = training == "FINISHED"
    reaches = threshold is None or (score <= threshold + 1e-12 if lower else score >= threshold - 1e-12)
    beats_baseline = score <= required + 1e-12 if lower else score >= required - 1e-12
    qualifies = finished and reaches and beats_baseline
    beats_champion = verdict in ("no champion", "is champion", "better") or (
        verdict == "indistinguishable"
        and params.gate_tie == "promote"
        and comparison is not None
        and tasks.gain(metric, comparison.difference, 0.0) >= -allowed - 1e-12
    )
    passed = qualifies and beats_champion
    reason = _reason(context, score, threshold, base, baseline, champion_version, champion_score, comparison)
    if comparison is not None:
        reason += _comparison_reason(comparison, verdict, allowed, champion_version, champion_score, params)
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
        metric=metric,
        challenger_score=score,
        champion_version=champion_version,
        champion_score=champion_score,
        min_f1=threshold if metric.startswith("f1_") else None,
        max_drop=params.gate_max_drop,
        aliases=after,
        metrics=challenger.metrics,
        task=context.task,
        direction=tasks.direction(metric),
        threshold=threshold,
        baseline=baseline,
        comparison=None
        if comparison is None
        else {**comparison.to_dict(), "verdict": verdict, "allowed_drop": round(allowed, 6)},
        absent_classes=absent,
    )
    return result, moves


def _metric_of(context: _Context, scored: _Scored) -> float:
    """The gate's metric of one model; a metric the split cannot give is the parameter's problem."""
    value = scored.metrics.get(context.metric)
    if value is None:
        why = evaluate.regression_notes(context.y, context.split) if context.task == tasks.REGRESSION else []
        because = "; ".join(why) or "it has too few distinct labels"
        context.params.fail(
            "gate_metric", f"a metric the {context.split} split can give ({because})", context.metric
        )
    return float(value)


def _compare(context: _Context, challenger: _Scored, champion: _Scored) -> compare.Comparison:
    params = context.params
    if context.task == tasks.REGRESSION:
        return compare.regression_bootstrap(
            context.metric,
            context.y,
            challenger.predictions,
            champion.predictions,
            confidence=params.gate_confidence,
            seed=params.seed,
        )
    return compare.paired_bootstrap(
        context.metric,
        context.y,
        challenger.predictions,
        champion.predictions,
        challenger.classes,
        confidence=params.gate_confidence,
        seed=params.seed,
    )


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


def _score(model_uri: str, x: Any, y: Any, task: str, timer: Timer) -> _Scored:
    try:
        with timer("mlflow"):
            model = modelstore.load(model_uri, permission=None)  # the gate never promotes a pickle
    except mlflow.exceptions.MlflowException as exc:
        raise BricksmlError(f"cannot load {model_uri}: {first_line(exc)}") from None
    with timer("score"):
        if task == tasks.REGRESSION:
            predicted = np.asarray(model.predict(x), dtype=np.float64)
            return _Scored(evaluate.regression_metrics(y, predicted), predicted, [])
        proba = model.predict_proba(x)
        classes = [str(c) for c in model.classes_]
        metrics = evaluate.classification_metrics(y, proba, classes)
        return _Scored(metrics, evaluate.predictions(proba, classes), classes)


def _verdict(comparison: compare.Comparison, allowed: float, lower: bool) -> str:
    """Non-inferiority by ``allowed``: better when the whole interval is no worse than it allows.

    For a score (higher is better) the interval of challenger - champion must lie above
    ``-allowed``; for an error, below ``+allowed``.
    """
    low, high = (-comparison.high, -comparison.low) if lower else (comparison.low, comparison.high)
    if low > -allowed:
        return "better"
    if high < -allowed:
        return "worse"
    return "indistinguishable"


def _number(metric: str, value: float) -> str:
    """Scores in [0, 1] with four decimals (as macro-F1 always was); errors with four digits."""
    return f"{value:.4g}" if metric in tasks.ERROR_METRICS else f"{value:.4f}"


def _reason(
    context: _Context,
    score: float,
    threshold: float | None,
    base: dict[str, float],
    baseline: dict[str, float],
    champion_version: str | None,
    champion_score: float | None,
    comparison: compare.Comparison | None,
) -> str:
    metric = context.metric
    lower = tasks.direction(metric) == tasks.LOWER
    name, shown = tasks.metric_name(metric), _number(metric, score)
    if threshold is None:
        parts = [f"{name} {shown} ({'lower' if lower else 'higher'} is better, no threshold set)"]
    elif lower:
        parts = [
            f"{name} {shown} {'<=' if score <= threshold else '>'} maximum {threshold:g} (lower is better)"
        ]
    else:
        parts = [f"{name} {shown} {'>=' if score >= threshold else '<'} minimum {threshold:g}"]
    best = (min if lower else max)(base, key=base.__getitem__)
    beats = score <= baseline["required"] + 1e-12 if lower else score >= baseline["required"] - 1e-12
    lead = "beats" if beats else "does not beat"
    margin = f"- {baseline['margin']:.0%}" if lower else f"+ margin {baseline['margin']:g}"
    parts.append(
        f"{lead} baseline ({_BASELINES.get(best, best)}) {_number(metric, base[best])} {margin}"
        f" = {_number(metric, baseline['required'])}"
    )
    if champion_version is None:
        parts.append("no champion yet")
    elif comparison is None:
        parts.append(f"already champion (v{champion_version})")
    return "; ".join(parts)


def _comparison_reason(
    comparison: compare.Comparison,
    verdict: str,
    allowed: float,
    champion_version: str | None,
    champion_score: float | None,
    params: TrainParams,
) -> str:
    metric = comparison.metric
    shown = "g" if metric in tasks.ERROR_METRICS else "f"
    interval = (
        f"difference {comparison.difference:+.4{shown}}, {comparison.confidence:.0%} interval "
        f"[{comparison.low:+.4{shown}}, {comparison.high:+.4{shown}}], allowed drop {allowed:g}"
    )
    relation = {
        "better": "better than",
        "worse": "worse than",
        "indistinguishable": "not distinguishable from",
    }[verdict]
    champion = _number(metric, champion_score or 0.0)
    text = f"; {relation} champion v{champion_version} ({champion}; {interval})"
    if verdict == "indistinguishable":
        text += (
            "; challenger promoted on the point estimate (gate_tie=promote)"
            if params.gate_tie == "promote"
            else "; champion kept (gate_tie=keep_champion)"
        )
    return text
