"""Parameters of the create_data job."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from bricksml.models import tasks
from bricksml.params.base import Contract, fraction_check, name_check, param

DEFAULT_DATA_ROOT = "/Volumes/main/bricksml/data"
#: The reader's choices (``bricksml.data.readers`` holds the same; kept here so that the contract
#: loads without pandas).
FORMATS = ("auto", "csv", "tsv", "parquet", "jsonl")
QUOTING = ("auto", "none", "csv")
BAD_RECORDS = ("fail", "drop", "keep")


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
    task: str = param(
        tasks.AUTO,
        choices=tasks.CHOICES,
        help="classification (the label's values are classes) or regression (a number to predict); "
        f"auto: regression for a numeric label with more than {tasks.AUTO_DISTINCT} distinct values.",
    )
    data_root: str = param(DEFAULT_DATA_ROOT, help="Root of all data sets (a Unity Catalog volume path).")
    raw_path: str = param(
        "",
        help="Raw file or folder (CSV, TSV, Parquet, JSON Lines). Default: {data_root}/{data_name}/raw/.",
    )
    format: str = param(
        "auto",
        choices=FORMATS,
        help="Format of the raw files: auto (by extension; a file without one by its content), "
        "csv (delimiter sniffed), tsv, parquet or jsonl (then any extension is read).",
    )
    header: bool = param(
        True, kind="bool", help="CSV/TSV files start with a header row of column names (else set columns)."
    )
    columns: tuple[str, ...] = param(
        (),
        kind="list",
        help="Names of the fields of CSV/TSV files without a header row (header=false), comma-separated.",
    )
    quoting: str = param(
        "auto",
        choices=QUOTING,
        help="Quotes in CSV/TSV files: csv (double quotes enclose values), none (a quote is text), "
        "auto (none for tab-separated files, csv otherwise).",
    )
    bad_records: str = param(
        "fail",
        choices=BAD_RECORDS,
        help="CSV/TSV records that are not one line of the header's fields (ragged, or merged by a quote): "
        "fail naming their lines, drop them (recorded), or keep them as parsed.",
    )
    text_col: str = param(
        "",
        help="Column holding the text. Empty: a tabular data set. Other columns beside it are "
        "features too (text and tabular).",
    )
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
        help="Columns to stratify on, comma-separated. Empty: the label (a regression label: bins of "
        "its values); 'none': no stratification.",
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
    leaks: str = param(
        "warn",
        choices=("warn", "fail"),
        help="Suspected leaks among tabular features (a column that gives the label away, a row id): "
        "warn (named in the report), or fail.",
    )

    def __post_init__(self) -> None:
        if self.header and self.columns:
            self.fail(
                "columns",
                "empty when header is true (the names come from the header row); "
                "set header=false to name the fields of files without one",
                ",".join(self.columns),
            )
        if not self.header and not self.columns:
            self.fail("columns", "the names of the fields, comma-separated, when header is false", "")
        if len(set(self.columns)) != len(self.columns):
            self.fail("columns", "distinct names", ",".join(self.columns))
        if not self.header and self.format in ("parquet", "jsonl"):
            self.fail("header", f"true for format={self.format} (its files name their columns)", False)
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
