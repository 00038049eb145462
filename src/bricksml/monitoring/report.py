"""A window's report: ``summary.json`` for programs, ``report.html`` and its PNG plots for people.

All of it is written into a hidden temporary folder and renamed into place
(:func:`bricksml.data.store.publish_new`): a reader sees a whole report or none, and a failed run
leaves nothing. Earlier windows' summaries of the same version give the plots over time.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bricksml import layout
from bricksml.data.store import publish_new
from bricksml.monitoring import plots
from bricksml.monitoring.features import CATEGORICAL, NUMERIC, FeatureDrift
from bricksml.monitoring.predictions import PredictionDrift
from bricksml.monitoring.signals import OK, Signal

SUMMARY = "summary.json"
REPORT = "report.html"
#: Windows of history drawn over time (the newest).
HISTORY_WINDOWS = 60
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def figures(
    features: FeatureDrift,
    predictions: PredictionDrift,
    signals: list[Signal],
    history: dict[str, list[tuple[dt.datetime, float]]],
    history_thresholds: dict[str, tuple[float, float]],
) -> dict[str, bytes]:
    """PNG bytes by file name: the predictions, each drifted feature, the measurements over time."""
    out: dict[str, bytes] = {}
    detail = predictions.details
    if detail.get("regression"):
        fig = plots.distribution_figure(
            detail["reference"], detail["current"], "Predicted values", "prediction"
        )
    else:
        fig = plots.shares_figure(
            detail["labels"], detail["reference"], detail["current"], "Predicted classes"
        )
    out["predictions.png"] = plots.png(fig)
    flagged = {s.name for s in signals if s.kind == "feature" and s.status != OK}
    for column, found in features.details.items():
        if column not in flagged:
            continue
        if found["kind"] == NUMERIC:
            fig = plots.distribution_figure(found["reference"], found["current"], column, column)
        elif found["kind"] == CATEGORICAL:
            fig = plots.shares_figure(found["labels"], found["reference"], found["current"], column)
        else:
            fig = plots.text_figure(column, found["reference"], found["current"], found["terms"])
        out[f"feature_{_SAFE.sub('_', column)}.png"] = plots.png(fig)
    series = {name: points for name, points in history.items() if len(points) >= 2}  # a line, not a dot
    if series:
        out["history.png"] = plots.png(plots.history_figure(series, history_thresholds))
    return out


def history(
    output_location: str, model_folder: str, current: Mapping[str, Any], wanted: Mapping[str, tuple[str, str]]
) -> dict[str, list[tuple[dt.datetime, float]]]:
    """``{label: [(window end, value), ...]}`` for the signals ``wanted`` (label -> (kind, metric)),
    from the earlier windows' summaries and then ``current``."""
    folder = layout.model_outputs_dir(output_location, model_folder) / layout.MONITORING
    summaries = []
    if folder.is_dir():
        for path in sorted(folder.glob(f"*/{SUMMARY}"))[-HISTORY_WINDOWS:]:
            try:
                summaries.append(json.loads(path.read_text()))
            except (OSError, ValueError):  # a summary being replaced, or damaged: skip it
                continue
    summaries.append(current)
    out: dict[str, list[tuple[dt.datetime, float]]] = {label: [] for label in wanted}
    for summary in summaries:
        try:
            until = dt.datetime.fromisoformat(summary["window"]["until"])
        except (KeyError, TypeError, ValueError):
            continue
        for label, (kind, metric) in wanted.items():
            value = next(
                (
                    s.get("value")
                    for s in summary.get("signals") or []
                    if s.get("kind") == kind and s.get("metric") == metric
                ),
                None,
            )
            if isinstance(value, (int, float)):
                out[label].append((until, float(value)))
    return {label: points for label, points in out.items() if points}


def write(target: Path, summary: dict[str, Any], images: Mapping[str, bytes], page: str) -> None:
    """The window's folder, whole or not at all."""

    def fill(tmp: Path) -> None:
        for name, data in images.items():
            (tmp / name).write_bytes(data)
        (tmp / REPORT).write_text(page, encoding="utf-8")
        (tmp / SUMMARY).write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")

    publish_new(target, fill, what=f"monitoring window {target.name}")


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:72rem;
color:#222;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}.meta{color:#555;margin-top:0}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:.4rem;color:#fff;font-weight:600}
.ok{background:#2e7d32}.warning{background:#f0a202}.alert{background:#d1495b}
table{border-collapse:collapse;width:100%;margin:1rem 0;font-size:.92rem}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
img{max-width:100%;border:1px solid #eee;margin:.5rem 0}
"""


def page(summary: Mapping[str, Any], images: Mapping[str, bytes], notes: list[str]) -> str:
    """The report a person reads: the decision and why, every signal, then the pictures."""
    e = html.escape
    decision = summary["decision"]
    title = f"{e(model_title(summary))}"
    window, reference = summary["window"], summary["reference"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Monitoring {title}: {e(decision)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{title} <span class='badge {e(decision)}'>{e(decision)}</span></h1>",
        f"<p class='meta'>Window {e(str(window['since']))} to {e(str(window['until']))}: "
        f"{window['rows']} rows. Reference: {e(str(reference['data_name']))}/"
        f"{e(str(reference['data_version']))} ({e(str(reference['split']))} split). "
        f"MLflow run {e(str(summary.get('mlflow_run_id') or ''))}.</p>",
        "<h2>Why</h2><ul>",
        *(f"<li>{e(reason)}</li>" for reason in summary["reasons"]),
        "</ul>",
    ]
    if notes:
        parts += ["<h2>Notes</h2><ul>", *(f"<li>{e(n)}</li>" for n in notes), "</ul>"]
    if "predictions.png" in images:
        parts.append(
            "<h2>Predictions</h2><img src='predictions.png' alt='predictions: reference against window'>"
        )
    drifted = [n for n in images if n.startswith("feature_")]
    if drifted:
        parts.append("<h2>Drifted features</h2>")
        parts += [f"<img src='{e(n)}' alt='{e(n[8:-4])}: reference against window'>" for n in drifted]
    if "history.png" in images:
        parts.append("<h2>Over time</h2><img src='history.png' alt='measurements over the windows'>")
    parts += [
        "<h2>Signals</h2><table><tr><th>name</th><th>kind</th><th>metric</th><th>value</th>"
        "<th>warning</th><th>alert</th><th>status</th><th>reason</th></tr>",
    ]
    for s in summary["signals"]:
        value = "" if s["value"] is None else f"{s['value']:.4g}"
        parts.append(
            f"<tr><td>{e(s['name'])}</td><td>{e(s['kind'])}</td><td>{e(s['metric'])}</td>"
            f"<td class='num'>{value}</td><td class='num'>{s['threshold_warning']:g}</td>"
            f"<td class='num'>{s['threshold_alert']:g}</td>"
            f"<td><span class='badge {e(s['status'])}'>{e(s['status'])}</span></td>"
            f"<td>{e(s['reason'])}</td></tr>"
        )
    parts += ["</table></body></html>"]
    return "\n".join(parts) + "\n"


def model_title(summary: Mapping[str, Any]) -> str:
    """``<name> v<N>`` (a logged model never registered: its URI)."""
    model = summary["model"]
    if model.get("model_version"):
        return f"{model['model_name']} v{model['model_version']}"
    return str(model.get("model_uri"))
