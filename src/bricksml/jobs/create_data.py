"""The create_data job: raw files -> quality checks -> group-aware stratified splits -> a version.

Nothing is lost silently: every record of the raw files is counted as kept or dropped with its
reason, classes too small for a split are named, and suspected leaks are reported.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bricksml import __version__, layout
from bricksml.data import arrow, leaks, quality, readers, split, store
from bricksml.errors import DataError
from bricksml.models import labels, tasks
from bricksml.params import CreateDataParams
from bricksml.progress import SILENT, Progress


@dataclass
class CreateDataResult:
    """What a create_data run produced, for the CLI's JSON and the notebook's display."""

    path: str
    data_name: str
    data_version: str
    created: bool
    splits: dict[str, int]
    labels: dict[str, dict[str, int]]
    quality: dict
    manifest: dict = field(repr=False)
    findings: list[str] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "data_name": self.data_name,
            "data_version": self.data_version,
            "status": "created" if self.created else "unchanged",
            "splits": self.splits,
            "labels": self.labels,
            "quality": self.quality,
            "task": self.manifest["task"],
            "features": self.manifest.get("features"),
        }

    def summary(self) -> pd.DataFrame:
        """Rows per split and label, as a small table."""
        return pd.DataFrame(self.labels).fillna(0).astype(int).rename_axis("label")


def version_dir(data_root: str, data_name: str, data_version: str) -> Path:
    return layout.version_dir(data_root, data_name, data_version)


def raw_location(params: CreateDataParams) -> Path:
    if params.raw_path:
        return layout.real_path(params.raw_path)
    return layout.raw_dir(params.data_root, params.data_name)


def create_data(params: CreateDataParams, progress: Progress = SILENT) -> CreateDataResult:
    """Run create_data end to end; the version folder appears whole or not at all."""
    raw = raw_location(params)
    progress.step(f"reading {raw}")
    frame, sources = readers.read_raw(raw, read_options(params))
    stratify = params.stratify_columns
    # One line for every missing column: the label, text and id columns, then any other to stratify on.
    roles = [("label_col", params.label_col), ("text_col", params.text_col), ("id_col", params.id_col)]
    named = {column for _, column in roles}
    quality.require_columns(frame, roles + [("stratify", c) for c in stratify if c not in named])
    shape = _shape(params, frame)  # the task, the features; a label or text column that cannot serve them

    progress.step(f"checking {len(frame)} rows")
    checked = quality.assess_rows(
        frame,
        label_col=params.label_col,
        # Text+tabular rows are judged whole: a duplicate is the same text, columns and label, and
        # an empty text is kept (its other columns carry the row). The same comment on two orders
        # is two rows: grouping them by text would lump a common "very good" into one split.
        text_col=None if shape.mixed else params.text_col or None,
        id_col=params.id_col or None,
        duplicates=params.duplicates,
    )
    report, rows = checked.report, checked.rows
    _record_reading(report, sources, params.bad_records)
    _describe_shape(shape, params, frame, checked)

    fractions = params.split_fractions
    progress.step(f"splitting into {', '.join(fractions)}")
    plan = _plan(params, frame, checked, shape)
    assignment = plan.assignment
    report.rare_classes = plan.rare
    for name, missed in plan.missing.items():
        report.notes.append(
            f"class {name!r} has no row in {' and '.join(missed)}: the splits are stratified on "
            f"{', '.join(stratify) or 'nothing'}, not on {params.label_col!r}; stratify on it to "
            "rule that out"
        )
    if not params.text_col or shape.mixed:  # text-only data sets learn from the text column alone
        _check_leaks(params, frame, rows[assignment == 0], report, shape)
    for line in report.lines():
        progress.step(line)

    target = version_dir(params.data_root, params.data_name, params.data_version)
    table = store.arrow_table(frame)

    def write(tmp: Path) -> dict:
        splits = {}
        for index, name in enumerate(fractions):
            positions = np.flatnonzero(assignment == index)
            path = tmp / f"{name}.parquet"
            if table is not None:
                store.write_rows(table, rows[positions], path)
            else:
                store.write_parquet(frame.take(rows[positions]).reset_index(drop=True), path)
            splits[name] = {
                "file": path.name,
                "rows": len(positions),
                "labels": _split_labels(shape, checked, positions),
                "sha256": store.file_sha256(path),
            }
        return _manifest(params, sources, frame, splits, report, shape)

    progress.step(f"writing {target}")
    manifest, created = store.publish(
        target, write, what=f"data_version {params.data_version!r} of {params.data_name!r}"
    )
    progress.step("created" if created else "identical version already exists: nothing written")
    return CreateDataResult(
        path=str(target),
        data_name=params.data_name,
        data_version=params.data_version,
        created=created,
        splits={name: s["rows"] for name, s in manifest["splits"].items()},
        labels={name: s["labels"] for name, s in manifest["splits"].items()},
        quality=manifest["quality"],
        manifest=manifest,
        findings=report.lines(),
    )


def _plan(
    params: CreateDataParams, frame: pd.DataFrame, checked: quality.Assessment, shape: _Shape
) -> split.SplitPlan:
    """Split the kept rows; the label's classes are checked too when they are not the strata.

    A regression label is stratified on bins of its values (recorded in the manifest); it has no
    classes to check.
    """
    stratify = params.stratify_columns
    regression = shape.task == tasks.REGRESSION
    if regression and stratify == (params.label_col,):
        values = arrow.take_series(frame[params.label_col], checked.rows).to_numpy(dtype=np.float64)
        shape.bins = labels.bins(values, min(params.split_fractions.values()))
        strata, names = shape.bins.codes, shape.bins.names
    elif stratify:
        strata, names = _strata(frame, stratify, checked.rows)
    else:
        strata, names = np.zeros(len(checked.rows), dtype=np.int64), ["all"]
    label = f"label_col {params.label_col!r}"
    return split.plan_splits(
        strata,
        checked.groups,
        list(params.split_fractions.values()),
        params.seed,
        stratum_names=names,
        rare=params.rare_classes,
        split_names=list(params.split_fractions),
        column=label if stratify == (params.label_col,) else f"stratify {','.join(stratify)!r}",
        classes=None if regression or params.label_col in stratify else checked.label_codes,
        class_names=checked.label_names,
        class_column=label,
        group_word="distinct texts" if params.text_col and not shape.mixed else "distinct rows",
    )


def _check_leaks(
    params: CreateDataParams,
    frame: pd.DataFrame,
    train_rows: np.ndarray,
    report: quality.QualityReport,
    shape: _Shape,
) -> None:
    """Suspected leaks among the features, judged on train rows (what a model learns from).

    A regression label is judged through its bins: a column that tells the bin of every row
    gives the number away too.
    """
    features = [c for c in shape.features if c != params.text_col]
    if shape.bins is not None:
        binned = np.full(len(frame), -1, dtype=np.int64)
        binned[shape.kept] = shape.bins.codes
        frame = frame.assign(**{params.label_col: pd.Series(binned, index=frame.index).where(binned >= 0)})
    elif shape.task == tasks.REGRESSION:  # stratified on other columns: no bins to judge with
        return
    found = leaks.find_leaks(frame, params.label_col, features, rows=train_rows, seed=params.seed)
    report.suspected_leaks = [leak.to_dict() for leak in found]
    if found and params.leaks == "fail":
        raise DataError(leaks.failure(report.suspected_leaks))


def read_options(params: CreateDataParams) -> readers.ReadOptions:
    """The reading half of the contract, as the reader takes it."""
    return readers.ReadOptions(
        format=params.format,
        header=params.header,
        columns=params.columns,
        quoting=params.quoting,
        bad_records=params.bad_records,
    )


def _record_reading(report: quality.QualityReport, sources: list[readers.SourceFile], policy: str) -> None:
    """Put what the reader did in the report: records in the files, bad records, its notes."""
    report.records_in_file = sum(s.records for s in sources)
    examples = [b.to_dict() for s in sources for b in s.examples][: readers.EXAMPLES]
    report.bad_records = {
        "found": sum(s.bad_records for s in sources),
        "dropped": sum(s.dropped for s in sources),
        "action": policy,
        "examples": examples,
    }
    report.notes.extend(note for s in sources for note in s.notes)


def _strata(frame: pd.DataFrame, columns: tuple[str, ...], rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    keys = pd.concat([arrow.take_series(frame[c], rows) for c in columns], axis=1)
    keys = keys.astype("string").fillna("<missing>")
    joined = keys.iloc[:, 0] if len(columns) == 1 else keys.agg(" | ".join, axis=1)
    codes, uniques = pd.factorize(joined, sort=True)
    return codes.astype(np.int64), [str(u) for u in uniques]


def _manifest(
    params: CreateDataParams,
    sources: list[readers.SourceFile],
    frame: pd.DataFrame,
    splits: dict,
    report: quality.QualityReport,
    shape: _Shape,
) -> dict:
    features = shape.features
    described = {"task_choice": shape.choice.to_dict(), "features": shape.kind}
    if shape.bins is not None:
        described["label_bins"] = shape.bins.to_dict()
    return {
        "format": 1,
        "data_name": params.data_name,
        "data_version": params.data_version,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "bricksml_version": __version__,
        "task": shape.task,
        **described,
        "label_col": params.label_col,
        "text_col": params.text_col or None,
        "id_col": params.id_col or None,
        "feature_columns": features,
        "columns": {str(c): str(t) for c, t in frame.dtypes.items()},
        "labels": list(report.class_counts),
        "parameters": params.to_strings(),
        "sources": [s.to_dict() for s in sources],
        "splits": splits,
        "quality": report.to_dict(),
    }


@dataclass
class _Shape:
    """What the data version is made for: its task (and why), its features, the label's bins."""

    choice: labels.TaskChoice
    features: list[str]
    text_col: str | None
    bins: labels.Bins | None = None  # a regression label stratified on its values
    kept: np.ndarray | None = None  # positions of the kept rows, which the bins follow

    @property
    def task(self) -> str:
        return self.choice.task

    @property
    def mixed(self) -> bool:
        """A text column and other feature columns: one model reads both."""
        return bool(self.text_col) and len(self.features) > 1

    @property
    def kind(self) -> str:
        return "text+tabular" if self.mixed else "text" if self.text_col else "tabular"


def _shape(params: CreateDataParams, frame: pd.DataFrame) -> _Shape:
    """The task (asked, or under auto what the label shows) and the feature columns.

    Every column but the label and id is a feature: a text data set's other columns too (the
    model reads the text next to them). A regression label must be numbers, a text column text:
    refused here, before anything is written.
    """
    others = [c for c in frame.columns if c not in (params.label_col, params.id_col, params.text_col)]
    features = [params.text_col, *others] if params.text_col else others
    if params.text_col:
        kind = quality.column_kind(frame[params.text_col])
        if kind not in ("text", quality.NO_VALUES, *quality.NESTED):
            values = frame[params.text_col]
            row = int(np.flatnonzero(values.notna().to_numpy())[0])
            raise DataError(
                f"text_col {params.text_col!r} holds {kind} (e.g. {quality.show(values.iloc[row])} in row "
                f"{row + 1}), not text: leave text_col empty to learn from it as a tabular column, or name "
                "the column that holds the text"
            )
    choice = labels.decide(frame[params.label_col], params.task, params.label_col)
    if choice.task == tasks.REGRESSION and not labels.is_numeric(frame[params.label_col]):
        frame[params.label_col] = labels.as_numbers(frame[params.label_col])[0]
    return _Shape(choice, features, params.text_col or None)


def _split_labels(shape: _Shape, checked: quality.Assessment, positions: np.ndarray) -> dict[str, int]:
    """Rows per class of a split; of a regression label, rows per bin of its values."""
    if shape.task != tasks.REGRESSION:
        return checked.label_counts(positions)
    if shape.bins is None:
        return {}
    counts = np.bincount(shape.bins.codes[positions], minlength=len(shape.bins.names))
    return {name: int(n) for name, n in zip(shape.bins.names, counts, strict=True)}


def _describe_shape(
    shape: _Shape, params: CreateDataParams, frame: pd.DataFrame, checked: quality.Assessment
) -> None:
    """Put the label's statistics (regression) and the kept empty texts (text+tabular) in the report."""
    shape.kept = checked.rows
    report = checked.report
    if shape.task == tasks.REGRESSION:
        stats = labels.statistics(arrow.take_series(frame[params.label_col], checked.rows))
        report.label_stats = {**stats, "missing": report.missing_label}  # the kept rows have none
        report.class_counts = {}  # every distinct number is no class: the statistics say more
    if shape.mixed:
        texts = arrow.take_series(frame[shape.text_col], checked.rows)
        empty = int(texts.isna().sum() + texts.astype("string").str.strip().eq("").sum())
        if empty:
            report.notes.append(
                f"{empty} of {len(checked.rows)} rows have no text in {shape.text_col!r}: kept, the model "
                "reads them as empty text beside their other columns"
            )
