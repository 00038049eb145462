"""The monitor's latest window for a model: its ``summary.json`` and the plots it names.

Windows live beside the model's inference outputs (:func:`bricksml.layout.monitoring_dir`), one
folder per version; the latest is the one whose window ends last.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from bricksml import layout
from bricksml.app.files import Files
from bricksml.monitoring.report import SUMMARY


@dataclass(frozen=True)
class Window:
    folder: Path
    summary: dict[str, Any]

    @property
    def decision(self) -> str:
        return str(self.summary.get("decision") or "unknown")

    def plots(self) -> dict[str, Path]:
        """The window's plots by name, as paths (only names inside the window's folder)."""
        out = {}
        for name, file in (self.summary.get("plots") or {}).items():
            relative = PurePosixPath(str(file))
            if relative.is_absolute() or ".." in relative.parts:
                continue
            out[str(name)] = self.folder / relative
        return out

    def drifted_signals(self) -> list[dict[str, Any]]:
        """The feature signals that are not ok, for the drifted features' table."""
        drifted = set(self.summary.get("drifted_features") or [])
        return [
            s
            for s in self.summary.get("signals") or []
            if s.get("kind") == "feature"
            and (s.get("name") in drifted or s.get("status") not in (None, "ok"))
        ]


def latest(files: Files, output_location: str, model_name: str) -> Window | None:
    """The newest window of any version of ``model_name``; None when the monitor has not run."""
    base = layout.model_outputs_dir(output_location, model_name)
    best: tuple[str, str, Window] | None = None
    for version_folder in files.children(base):
        monitoring = layout.model_outputs_dir(output_location, PurePosixPath(model_name, version_folder))
        stamps = files.children(monitoring / layout.MONITORING)
        for stamp in reversed(stamps):  # the newest of this version that is whole
            window_folder = layout.monitoring_dir(
                output_location, PurePosixPath(model_name, version_folder), stamp
            )
            summary_file = window_folder / SUMMARY
            if stamp.startswith(".") or not files.is_file(summary_file):
                continue
            try:
                summary = json.loads(files.read_bytes(summary_file))
            except (OSError, ValueError):
                continue
            until = str((summary.get("window") or {}).get("until") or "")
            key = (until, stamp, Window(window_folder, summary))
            if best is None or key[:2] > best[:2]:
                best = key
            break
    return best[2] if best else None
