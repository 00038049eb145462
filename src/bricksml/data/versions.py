"""Read a data version written by create_data: its manifest and its split files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bricksml import layout
from bricksml.errors import DataError


@dataclass(frozen=True)
class DataVersion:
    """One immutable data version: where it is and what its manifest says."""

    path: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.manifest["data_name"]

    @property
    def version(self) -> str:
        return self.manifest["data_version"]

    @property
    def label_col(self) -> str:
        return self.manifest["label_col"]

    @property
    def text_col(self) -> str | None:
        return self.manifest.get("text_col")

    @property
    def id_col(self) -> str | None:
        return self.manifest.get("id_col")

    @property
    def feature_columns(self) -> list[str]:
        return list(self.manifest["feature_columns"])

    @property
    def splits(self) -> list[str]:
        return list(self.manifest["splits"])

    @property
    def evaluation_split(self) -> str:
        """The split the promotion gate judges on: holdout when there is one, else test."""
        return "holdout" if "holdout" in self.manifest["splits"] else "test"

    def split_file(self, split: str) -> Path:
        if split not in self.manifest["splits"]:
            raise DataError(
                f"split {split!r} is not in data version {self.name}/{self.version}; "
                f"it has: {', '.join(self.splits)}"
            )
        return self.path / self.manifest["splits"][split]["file"]

    def split_digest(self, split: str) -> str:
        return self.manifest["splits"][split]["sha256"]

    def read(self, split: str) -> pd.DataFrame:
        return pd.read_parquet(self.split_file(split))


def open_version(data_root: str, data_name: str, data_version: str) -> DataVersion:
    """The data version, or a clear error listing the versions that exist."""
    path = layout.version_dir(data_root, data_name, data_version)
    manifest_path = layout.manifest_file(path)
    if not manifest_path.is_file():
        existing = layout.versions(data_root, data_name)
        base = layout.data_dir(data_root, data_name)
        hint = f"existing versions: {', '.join(existing)}" if existing else "run create_data first"
        raise DataError(f"data version {data_name}/{data_version} not found under {base} ({hint})")
    return DataVersion(path, json.loads(manifest_path.read_text()))
