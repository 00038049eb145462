"""Parameters of the create_data job."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from bricksml.params.base import Contract, fraction_check, name_check, param

DEFAULT_DATA_ROOT = "/Volumes/main/bricksml/data"


@dataclasses.dataclass(frozen=True)
class CreateDataParams(Contract):
    """What create_data needs to turn raw files into one immutable, versioned set of splits."""

    job: ClassVar[str] = "create_data"

    data_name: str = param(help="Name of the data set: a folder under data_root.", check=name_check)
    data_version: str = param(
        help="Version to create, e.g. v1. Existing versions are never overwritten.",
        check=name_check,
    )
    label_col: str = param(help="Column holding the label (the target).")
    data_root: str = param(DEFAULT_DATA_ROOT, help="Root of all data sets (a Unity Catalog volume path).")
    raw_path: str = param(
        "",
        help="Raw file or folder (CSV, TSV, Parquet, JSON Lines). Default: {data_root}/{data_name}/raw/.",
    )
    text_col: str = param("", help="Column holding the text. Empty: a tabular data set.")
    id_col: str = param("", help="Column identifying a row. Empty: no id column.")
    test_size: float = param(0.2, kind="float", help="Share of all rows for test.", check=fraction_check)
    holdout: bool = param(True, kind="bool", help="Also cut a holdout split (for the promotion gate).")
    holdout_size: float = param(
        0.1,
        kind="float",
        help="Share of all rows for holdout (when holdout is true).",
        check=fraction_check,
    )
    stratify: tuple[str, ...] = param(
        (),
        kind="list",
        help="Columns to stratify on, comma-separated. Empty: the label; 'none': no stratification.",
    )
    seed: int = param(42, kind="int", help="Random seed: the same seed gives byte-identical splits.")
    duplicates: str = param(
        "drop",
        choices=("drop", "keep", "fail"),
        help="Exact duplicate rows (or texts with the same label).",
    )
    rare_classes: str = param(
        "fail",
        choices=("fail", "train"),
        help="A class too small to reach every split: fail, or keep its rows in train only.",
    )

    def __post_init__(self) -> None:
        held = self.holdout_size if self.holdout else 0.0
        if self.test_size + held >= 1.0:
            self.fail(
                "test_size",
                f"less than 1 - holdout_size ({1 - held:g}) so that train keeps rows",
                self.test_size,
            )

    @property
    def stratify_columns(self) -> tuple[str, ...]:
        """The columns to stratify on, with the defaults spelled out."""
        if not self.stratify:
            return (self.label_col,)
        if [c.lower() for c in self.stratify] == ["none"]:
            return ()
        return self.stratify

    @property
    def split_fractions(self) -> dict[str, float]:
        held = self.holdout_size if self.holdout else 0.0
        fractions = {"train": 1.0 - self.test_size - held, "test": self.test_size}
        if self.holdout:
            fractions["holdout"] = held
        return fractions
