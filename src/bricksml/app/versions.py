"""The registered versions of a model for the Models page: aliases, gate records, scores, lineage."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow.exceptions import MlflowException

from bricksml.cli.summaries import HEADLINE_METRICS, METRIC_LABELS
from bricksml.errors import RegistryError, first_line
from bricksml.tracking import registry

#: The newest versions listed (each costs a registry and a tracking round trip).
SHOWN = 20
#: The split whose scores the table shows, first found (the gate's split first).
SPLITS = ("holdout", "test")
PLOTS = "plots"


@dataclass(frozen=True)
class VersionRow:
    version: str
    aliases: list[str]
    gate_decision: str
    gate_reason: str
    scores: dict[str, float]  # by metric label, on the first split of SPLITS the run scored
    split: str
    data: str  # data_name/data_version
    commit: str
    model_type: str
    created: str
    run_id: str

    def as_record(self) -> dict[str, object]:
        return {
            "version": self.version,
            "aliases": ", ".join(f"@{a}" for a in self.aliases),
            "gate": self.gate_decision,
            **{f"{label} ({self.split})": value for label, value in self.scores.items()},
            "data version": self.data,
            "commit": self.commit[:10],
            "model type": self.model_type,
            "registered": self.created,
        }


def rows(name: str) -> list[VersionRow]:
    """The newest :data:`SHOWN` versions of ``name``, newest first."""
    client = registry.client()
    try:
        found = client.search_model_versions(f"name='{name}'")
    except MlflowException as exc:
        raise RegistryError(f"model {name}: its versions cannot be read: {first_line(exc)}") from None
    by_version: dict[str, list[str]] = {}
    for alias, number in registry.aliases(name).items():
        by_version.setdefault(number, []).append(alias)
    out = []
    for version in sorted(found, key=lambda v: int(v.version), reverse=True)[:SHOWN]:
        tags = dict(version.tags or {})
        metrics: dict[str, float] = {}
        if version.run_id:
            try:
                metrics = dict(client.get_run(version.run_id).data.metrics)
            except MlflowException:
                metrics = {}
        split = next((s for s in SPLITS if any(k.startswith(f"{s}_") for k in metrics)), "")
        scores = {
            METRIC_LABELS.get(m, m): round(metrics[f"{split}_{m}"], 4)
            for m in HEADLINE_METRICS
            if f"{split}_{m}" in metrics
        }
        created = dt.datetime.fromtimestamp((version.creation_timestamp or 0) / 1000, dt.timezone.utc)
        out.append(
            VersionRow(
                version=str(version.version),
                aliases=sorted(by_version.get(str(version.version), [])),
                gate_decision=tags.get(registry.GATE_DECISION, "not judged"),
                gate_reason=tags.get("gate_reason", ""),
                scores=scores,
                split=split,
                data=f"{tags.get('data_name', '?')}/{tags.get('data_version', '?')}",
                commit=tags.get("git_commit", ""),
                model_type=tags.get("model_type", ""),
                created=created.strftime("%Y-%m-%d %H:%M UTC"),
                run_id=version.run_id or "",
            )
        )
    return out


def plots(run_id: str) -> dict[str, bytes]:
    """The PNG plots a training run logged, by file name."""
    client = registry.client()
    try:
        listed = [a for a in client.list_artifacts(run_id, PLOTS) if a.path.endswith(".png")]
        if not listed:
            return {}
        with tempfile.TemporaryDirectory(prefix="bricksml-plots-") as folder:
            local = Path(client.download_artifacts(run_id, PLOTS, folder))
            return {p.name: p.read_bytes() for p in sorted(local.glob("*.png"))}
    except (MlflowException, OSError):
        return {}
