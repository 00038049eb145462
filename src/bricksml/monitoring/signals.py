"""What a window's measurements say: one graded signal per measurement, and the window's decision.

Each signal holds one number and the two thresholds it is graded against: ``ok`` below the
warning threshold, ``warning`` from it, ``alert`` from the alert threshold. Where less is worse
(the rows of a window), the comparison is turned round. The window's decision is its worst signal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

OK, WARNING, ALERT = "ok", "warning", "alert"
STATUSES = (OK, WARNING, ALERT)
KINDS = ("feature", "prediction", "performance", "volume", "errors")
#: Signals whose alert means the model no longer sees the data it learned from: a reason to retrain.
DRIFT_KINDS = ("feature", "prediction", "performance")


@dataclass(frozen=True)
class Signal:
    """One graded measurement of a window, as ``summary.json`` lists it."""

    name: str
    kind: str
    metric: str
    value: float | None
    threshold_warning: float
    threshold_alert: float
    status: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if isinstance(self.value, float):
            out["value"] = round(self.value, 6)
        return out


def grade(value: float | None, warning: float, alert: float, lower_is_worse: bool = False) -> str:
    """The status of ``value`` against its thresholds; an unmeasured value is ``ok``."""
    if value is None:
        return OK
    if lower_is_worse:
        return ALERT if value <= alert else WARNING if value < warning else OK
    return ALERT if value >= alert else WARNING if value >= warning else OK


def signal(
    name: str,
    kind: str,
    metric: str,
    value: float | None,
    thresholds: tuple[float, float],
    reason: str,
    lower_is_worse: bool = False,
) -> Signal:
    """A signal graded on the spot; ``reason`` is the sentence a person reads."""
    if kind not in KINDS:
        raise ValueError(f"unknown signal kind {kind!r}")
    warning, alert = thresholds
    status = grade(value, warning, alert, lower_is_worse)
    return Signal(name, kind, metric, value, warning, alert, status, reason)


def decision(signals: Iterable[Signal]) -> str:
    """The worst status among the signals (``ok`` for none)."""
    worst = max((STATUSES.index(s.status) for s in signals), default=0)
    return STATUSES[worst]


def reasons(signals: list[Signal]) -> list[str]:
    """The sentences behind the decision: alerts first, then warnings; one line when all is well."""
    flagged = [s for s in signals if s.status != OK]
    flagged.sort(key=lambda s: -STATUSES.index(s.status))
    if not flagged:
        return [f"all {len(signals)} signals are within their thresholds"]
    return [f"{s.status}: {s.reason}" for s in flagged]


def drifted_features(signals: Iterable[Signal]) -> list[str]:
    """The features with at least one signal at warning or alert, in the order measured."""
    return list(dict.fromkeys(s.name for s in signals if s.kind == "feature" and s.status != OK))


def calls_for_retraining(signals: Iterable[Signal]) -> bool:
    """An alert on the data or on the model's answers (not on volume or failed requests)."""
    return any(s.status == ALERT and s.kind in DRIFT_KINDS for s in signals)


@dataclass(frozen=True)
class Thresholds:
    """(warning, alert) per measurement, as the job's parameters give them."""

    psi: tuple[float, float] = (0.1, 0.25)
    missing: tuple[float, float] = (0.05, 0.2)
    new_categories: tuple[float, float] = (0.01, 0.05)
    oov: tuple[float, float] = (0.05, 0.15)
    confidence: tuple[float, float] = (0.05, 0.1)
    performance: tuple[float, float] = (0.02, 0.05)
    errors: tuple[float, float] = (0.01, 0.05)
    min_rows: int = 100
