"""What a job's tasks returned, in a few lines for a person: scores, the gate, outputs, findings.

The input is the result each notebook ends with (``exit_notebook(result.to_dict())``) or a
command returns. A result is recognised by its keys, not by its task's name, and every key is
optional: the records grow (the gate's ``baseline`` and ``comparison``, new quality findings)
and neither a new key nor a missing one may break the last lines of a run.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from itertools import groupby
from typing import Any

from bricksml.errors import ModelRejectedError

#: Gate decisions that turn down the version; ``challenger`` is not one (it qualified, the
#: champion stays), nor is ``skipped`` (no judgement).
REJECTIONS = frozenset({"rejected", "would_reject"})
#: Splits in the order a person reads them; any other split follows, by name.
SPLIT_ORDER = ("train", "validation", "test", "holdout")
#: Metrics for the score table, in this order, when present (classification, then regression).
HEADLINE_METRICS = ("f1_macro", "accuracy", "rmse", "mae", "r2")
METRIC_LABELS = {
    "f1_macro": "macro-F1",
    "accuracy": "accuracy",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R2",
    "roc_auc_ovr": "ROC-AUC",
}
#: Quality keys that are no finding: the counts in the heading (``rows`` is their breakdown), the
#: class sizes, and texts too long for a line (the conflicting rows), which the notebook shows.
_QUALITY_SKIPPED = {
    "rows_in",
    "rows_out",
    "records_in_file",
    "rows",
    "class_counts",
    "conflict_examples",
    "notes",
    "label_stats",
}
_LISTED = 5  # items of a list finding shown before "+N more"
_ITEM_CHARS = 80


def kind(result: Any) -> str | None:
    """Which task produced ``result``: 'gate', 'inference', 'create_data', 'train', or None."""
    if not isinstance(result, Mapping):
        return None
    if "decision" in result:
        return "gate"
    if "output_path" in result:
        return "inference"
    if "splits" in result and "quality" in result:
        return "create_data"
    if "model_version" in result and "metrics" in result:
        return "train"
    return None


def result_lines(result: Any, metric: str | None = None) -> list[str]:
    """The summary of one task's result; ``metric`` (the gate's) leads the score table."""
    found = kind(result)
    if found == "gate":
        return gate_lines(result)
    if found == "inference":
        return inference_lines(result)
    if found == "create_data":
        return create_data_lines(result)
    if found == "train":
        return train_lines(result, metric)
    return []


def tasks_lines(tasks: Iterable[Mapping[str, Any]]) -> list[str]:
    """The summaries of a job run's tasks; a pipeline's tasks under the name of their child job."""
    groups = [(job, list(group)) for job, group in groupby(tasks, key=lambda t: t.get("job"))]
    lines: list[str] = []
    for job, group in groups:
        results = [t.get("result") for t in group]
        metric = next((r.get("metric") for r in results if kind(r) == "gate"), None)
        body = [line for r in results for line in result_lines(r, metric)]
        if len(groups) > 1 and body:
            lines.append(f"{job}:")
            body = ["  " + line for line in body]
        lines.extend(body)
    return lines


# -- train -------------------------------------------------------------------------------------


def train_lines(result: Mapping[str, Any], metric: str | None = None) -> list[str]:
    """The registered version, then its scores on every split: over-fitting shows at a glance."""
    head = f"trained {result.get('model_type') or 'a model'}"
    if result.get("task") == "regression":
        head += " (regression)"
    if result.get("data"):
        head += f" on {result['data']}"
    if result.get("model_name"):
        head += f": {result['model_name']} v{result.get('model_version', '?')}"
    if result.get("run_id"):
        head += f" (MLflow run {result['run_id']})"
    metrics = result.get("metrics")
    table = score_table(metrics if isinstance(metrics, Mapping) else {}, metric)
    leaks = [leak["message"] for leak in result.get("suspected_leaks") or [] if isinstance(leak, Mapping)]
    notes = [f"  note: {_one_line(note)}" for note in result.get("notes") or [] if note]
    return [head, *("  " + row for row in table), *notes, *(f"warning: {message}" for message in leaks)]


def split_metrics(metrics: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``{split: {metric: value}}`` from MLflow-style keys ``<split>_<metric>``, in reading order.

    Timings (``fit_seconds``, ``job_seconds``) share the form but are no split.
    """
    by_split: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        split, sep, name = str(key).partition("_")
        if sep and name and isinstance(value, (int, float)) and not isinstance(value, bool):
            by_split.setdefault(split, {})[name] = float(value)
    kept = {s: m for s, m in by_split.items() if any(not n.endswith("seconds") for n in m)}
    return {s: kept[s] for s in _in_reading_order(kept)}


def _in_reading_order(splits: Iterable[str]) -> list[str]:
    """Split names as SPLIT_ORDER has them, then the others by name (results arrive key-sorted)."""
    names = set(splits)
    return [s for s in SPLIT_ORDER if s in names] + sorted(names - set(SPLIT_ORDER))


def score_table(metrics: Mapping[str, Any], metric: str | None = None) -> list[str]:
    """Rows of split x headline metric; ``metric`` first; the first two metrics when none is known."""
    by_split = split_metrics(metrics)
    if not by_split:
        return []
    present = {name for values in by_split.values() for name in values}
    columns = [m for m in dict.fromkeys((metric, *HEADLINE_METRICS)) if m and m in present]
    if not columns:
        columns = sorted(present)[:2]
    header = ["split", *(METRIC_LABELS.get(c, c) for c in columns)]
    body = [[split, *(f"{v[c]:.4f}" if c in v else "-" for c in columns)] for split, v in by_split.items()]
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
    rows = []
    for row in (header, *body):
        cells = [
            row[0].ljust(widths[0]),
            *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)),
        ]
        rows.append("  ".join(cells))
    return rows


# -- the promotion gate ------------------------------------------------------------------------


def is_rejection(gate: Any) -> bool:
    """True for a gate record that turned its version down (also in a dry run)."""
    return kind(gate) == "gate" and gate.get("decision") in REJECTIONS


def gate_lines(gate: Mapping[str, Any]) -> list[str]:
    """``gate: REJECTED - <reason>; champion stays v3`` and the aliases after the gate."""
    decision = str(gate.get("decision") or "unknown")
    mode = gate.get("mode")
    line = "gate" + (f" ({mode})" if mode and mode != "enabled" else "")
    line += f": {decision.replace('_', ' ').upper()}"
    if gate.get("reason"):
        line += f" - {_one_line(gate['reason'])}"
    outcome = _outcome(gate, decision)
    if outcome:
        line += f"; {outcome}"
    lines = [line]
    aliases = gate.get("aliases")
    if isinstance(aliases, Mapping) and aliases:
        lines.append("  aliases: " + ", ".join(f"@{a} -> v{v}" for a, v in sorted(aliases.items())))
    return lines


def _outcome(gate: Mapping[str, Any], decision: str) -> str | None:
    """What the decision did to the aliases, in words."""
    version = gate.get("model_version")
    aliases = gate.get("aliases") if isinstance(gate.get("aliases"), Mapping) else {}
    champion = aliases.get("champion") or gate.get("champion_version")
    stays = f"champion stays v{champion}" if champion else None
    if decision == "promoted":
        return f"v{version} is now @champion" if version else None
    if decision == "challenger":
        return ", ".join(p for p in (f"v{version} is @challenger" if version else None, stays) if p)
    if decision in ("would_promote", "would_reject"):
        return ", ".join(p for p in ("nothing moved (dry run)", stays) if p)
    if decision in REJECTIONS:
        return stays
    return None


def rejection_message(gate: Mapping[str, Any]) -> str:
    """The one line on stderr for ``--fail-on-reject``: which version, why, what stays champion."""
    name, version = gate.get("model_name") or "the model", gate.get("model_version")
    what = f"{name} v{version}" if version else str(name)
    decision = str(gate.get("decision")).replace("_", " ")
    message = f"{what} {decision} by the promotion gate (--fail-on-reject)"
    if gate.get("reason"):
        message += f": {_one_line(gate['reason'])}"
    outcome = _outcome(gate, str(gate.get("decision")))
    return message + (f"; {outcome}" if outcome else "")


def add_fail_on_reject(parser: argparse.ArgumentParser) -> None:
    """The flag that makes a gate's rejection fail the command (for CI); by default it is news."""
    parser.add_argument(
        "--fail-on-reject",
        action="store_true",
        help=f"exit with code {ModelRejectedError.exit_code} when the promotion gate rejects the model "
        "(decision rejected or would_reject; a challenger is no rejection); "
        "jobs without a validate task are unaffected",
    )


def raise_if_rejected(gates: Iterable[Any], data: object, shown: str | None = None) -> None:
    """End the command with :class:`ModelRejectedError` when a gate turned its version down.

    ``shown`` (the text summary) is printed on stdout first: the error stops the command before
    it renders, and the scores behind a rejection are what a person needs to read next.
    """
    for gate in gates:
        if is_rejection(gate):
            if shown:
                print(shown, flush=True)
            raise ModelRejectedError(rejection_message(gate), data)


# -- inference ---------------------------------------------------------------------------------


def inference_lines(result: Mapping[str, Any]) -> list[str]:
    """Rows scored, where they went, and the predicted classes' shares (a skew shows here first)."""
    head = f"scored {result.get('rows', '?')} rows"
    if result.get("input"):
        head += f" of {result['input']}"
    if result.get("model_uri"):
        head += f" with {result['model_uri']}"
    lines = [head, f"  predictions: {result['output_path']}"]
    counts = result.get("prediction_counts")
    if isinstance(counts, Mapping) and counts:
        numbers = {k: v for k, v in counts.items() if isinstance(v, (int, float))}
        total = sum(numbers.values()) or 1
        shares = ", ".join(f"{k} {v} ({v / total:.1%})" for k, v in numbers.items())
        lines.append(f"  predicted: {shares}")
    stats = result.get("prediction_stats")
    if isinstance(stats, Mapping) and _numbers(stats, "mean", "p05", "p95"):
        lines.append(
            f"  predicted: mean {stats['mean']:.4g} (5%-95%: {stats['p05']:.4g} to {stats['p95']:.4g})"
        )
    metrics = result.get("metrics")
    if isinstance(metrics, Mapping) and metrics:
        shown = [m for m in HEADLINE_METRICS if isinstance(metrics.get(m), (int, float))]
        if shown:
            scores = ", ".join(f"{METRIC_LABELS.get(m, m)} {metrics[m]:.4f}" for m in shown)
            lines.append(f"  labels present: {scores}")
    if result.get("null_text"):
        lines.append(f"  {result['null_text']} rows had no text and were scored as empty text")
    return lines


# -- create_data -------------------------------------------------------------------------------


def create_data_lines(result: Mapping[str, Any]) -> list[str]:
    """The version, its rows per split, and every quality finding that is not zero or empty."""
    name = f"{result.get('data_name', '?')}/{result.get('data_version', '?')}"
    status = result.get("status")
    head = f"data version {name}" + (f" {status}" if status else "")
    if result.get("path"):
        head += f": {result['path']}"
    lines = [head]
    if result.get("task") in ("classification", "regression"):
        lines.append(
            f"  task: {result['task']}" + (f" ({result['features']})" if result.get("features") else "")
        )
    splits = result.get("splits")
    if isinstance(splits, Mapping) and splits:
        lines.append("  rows: " + ", ".join(f"{s} {splits[s]}" for s in _in_reading_order(splits)))
    quality = result.get("quality")
    if isinstance(quality, Mapping):
        lines.extend(quality_lines(quality))
        stats = quality.get("label_stats")
        if isinstance(stats, Mapping) and _numbers(stats, "min", "max", "mean"):
            lines.append(
                f"    label: {stats.get('count', '?')} values from {stats['min']:g} to {stats['max']:g},"
                f" mean {stats['mean']:.4g}"
            )
    return lines


def _numbers(record: Mapping[str, Any], *keys: str) -> bool:
    return all(isinstance(record.get(k), (int, float)) and not isinstance(record.get(k), bool) for k in keys)


def quality_lines(quality: Mapping[str, Any]) -> list[str]:
    """Rows read and kept, then one line per finding: what to look at before trusting the splits."""
    texts = {
        key: text
        for key, value in quality.items()
        if key not in _QUALITY_SKIPPED and (text := _finding(value))
    }
    if "exact_duplicates" in texts and "duplicates_dropped" in quality:
        # One line says both: how many, and whether create_data dropped them.
        texts.pop("duplicates_dropped", None)
        texts["exact_duplicates"] += " (dropped)" if quality["duplicates_dropped"] else " (kept)"
    findings = [f"    {str(key).replace('_', ' ')}: {text}" for key, text in texts.items()]
    notes = quality.get("notes")
    if isinstance(notes, list):
        findings += [f"    note: {_one_line(note)}" for note in notes if note]
    counts = [
        f"{quality[key]} {label}"
        for key, label in (("records_in_file", "records in the files"), ("rows_in", "rows read"))
        if isinstance(quality.get(key), int)
    ]
    if len(counts) == 2 and quality["records_in_file"] == quality["rows_in"]:
        counts = counts[1:]  # one number when every record became a row
    if isinstance(quality.get("rows_out"), int):
        counts.append(f"{quality['rows_out']} kept")
    if not counts and not findings:
        return []
    return [("  quality: " + ", ".join(counts)).rstrip(), *findings]


def _finding(value: Any) -> str | None:
    """A quality value as text, or None when it reports nothing (0, empty, False, None).

    A string alone is a setting (``bad_records``' action), no finding; inside a record that
    reports something it is context and shown.
    """
    if isinstance(value, bool):
        return "yes" if value else None
    if isinstance(value, (int, float)):
        return f"{value:g}" if value else None
    if isinstance(value, Mapping):
        found = {k: _finding(v) for k, v in value.items()}
        if not any(found.values()):
            return None
        context = [f"{k} {_one_line(v)}" for k, v in value.items() if isinstance(v, str) and v]
        return _listed([f"{k} {t}" for k, t in found.items() if t] + context)
    if isinstance(value, (list, tuple)):
        return _listed([_item(v) for v in value if v not in (None, "", [], {})]) or None
    return None


def _listed(items: list[str]) -> str:
    more = f" (+{len(items) - _LISTED} more)" if len(items) > _LISTED else ""
    return ", ".join(items[:_LISTED]) + more


def _item(value: Any) -> str:
    """One entry of a list finding: ``column (kind)`` for a leak, ``k=v`` pairs for other records."""
    if isinstance(value, Mapping) and "column" in value:
        text = f"{value['column']}" + (f" ({value['kind']})" if value.get("kind") else "")
    elif isinstance(value, Mapping):
        text = " ".join(f"{k}={v}" for k, v in value.items())
    else:
        text = str(value)
    text = _one_line(text)
    return text if len(text) <= _ITEM_CHARS else text[: _ITEM_CHARS - 1] + "\u2026"


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())
