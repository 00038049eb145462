"""create_data end to end through the library: the guarantees a user builds on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bricksml.data import sample
from bricksml.data.quality import normalized_text
from bricksml.errors import DataError, VersionExistsError
from bricksml.jobs.create_data import create_data
from bricksml.params import CreateDataParams


@pytest.fixture
def raw_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRICKSML_LOCAL_ROOT", str(tmp_path / "root"))
    path = tmp_path / "sentiment.csv"
    sample.sentiment(3000, 5).to_csv(path, index=False)
    return path


def _params(raw: Path, **extra: str) -> CreateDataParams:
    values = {"data_name": "fs", "data_version": "v1", "label_col": "Sentiment", "text_col": "Sentence"}
    return CreateDataParams.parse({**values, "raw_path": str(raw), "id_col": "id", **extra})


def test_manifest_records_sources_splits_and_quality(raw_csv: Path) -> None:
    result = create_data(_params(raw_csv))
    manifest = result.manifest
    assert manifest["sources"][0]["sha256"] and manifest["sources"][0]["rows"] == 3000
    assert set(manifest["splits"]) == {"train", "test", "holdout"}
    assert sum(s["rows"] for s in manifest["splits"].values()) == manifest["quality"]["rows_out"]
    assert manifest["quality"]["exact_duplicates"] > 0, "the sample data repeats some sentences"
    assert manifest["parameters"]["seed"] == "42" and manifest["bricksml_version"]
    for name, split in manifest["splits"].items():
        frame = pd.read_parquet(Path(result.path) / split["file"])
        assert len(frame) == split["rows"], name


def test_no_text_lands_in_two_splits(raw_csv: Path) -> None:
    result = create_data(_params(raw_csv))
    seen: dict[str, str] = {}
    for name in result.splits:
        texts = normalized_text(pd.read_parquet(Path(result.path) / f"{name}.parquet")["Sentence"])
        for text in set(texts.to_pylist()):
            assert seen.setdefault(text, name) == name, f"{text!r} is in {seen[text]} and {name}"


def test_same_input_and_seed_give_byte_identical_files(raw_csv: Path) -> None:
    first = create_data(_params(raw_csv, data_version="a"))
    second = create_data(_params(raw_csv, data_version="b"))
    for name in first.splits:
        a = (Path(first.path) / f"{name}.parquet").read_bytes()
        assert a == (Path(second.path) / f"{name}.parquet").read_bytes(), name


def test_identical_rerun_is_a_no_op_and_other_content_is_refused(raw_csv: Path) -> None:
    first = create_data(_params(raw_csv))
    before = {p.name: p.stat().st_mtime_ns for p in Path(first.path).iterdir()}
    again = create_data(_params(raw_csv))
    assert first.created and not again.created
    with pytest.raises(VersionExistsError, match="'v1'"):
        create_data(_params(raw_csv, seed="7"))
    after = {p.name: p.stat().st_mtime_ns for p in Path(first.path).iterdir()}
    assert before == after, "the existing version was touched"


def test_tabular_data_and_a_rare_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRICKSML_LOCAL_ROOT", str(tmp_path / "root"))
    raw = tmp_path / "customers.parquet"
    frame = sample.customers(600, 1)
    frame.to_parquet(raw, index=False)
    params = {"data_name": "cust", "data_version": "v1", "label_col": "customer_segment"}
    result = create_data(CreateDataParams.parse({**params, "raw_path": str(raw), "id_col": "customer_id"}))
    assert result.manifest["task"] == "tabular"
    assert "customer_id" not in result.manifest["feature_columns"]
    frame.loc[frame.index[:2], "customer_segment"] = "vip"
    frame.loc[frame.index[2:], "customer_segment"] = frame["customer_segment"].iloc[2:].replace("vip", "x")
    frame.to_parquet(raw, index=False)
    with pytest.raises(DataError, match=r"class 'vip' has 2 rows"):
        create_data(CreateDataParams.parse({**params, "data_version": "v2", "raw_path": str(raw)}))
    kept = create_data(
        CreateDataParams.parse(
            {**params, "data_version": "v3", "raw_path": str(raw), "rare_classes": "train"}
        )
    )
    assert kept.labels["train"]["vip"] == 2 and kept.labels["test"]["vip"] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, r"^column not found: label_col 'label'; the data has \['a', 'b'\]: name one of those$"),
        (
            {"text_col": "body", "stratify": "label,region"},
            r"^column not found: label_col 'label', text_col 'body', stratify 'region'; the data has",
        ),
    ],
)
def test_missing_columns_are_named_once_by_their_parameter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict, message: str
) -> None:
    monkeypatch.setenv("BRICKSML_LOCAL_ROOT", str(tmp_path / "local"))
    raw = tmp_path / "raw.csv"
    raw.write_text("a,b\n1,2\n3,4\n")
    fields = {"data_name": "d", "data_version": "v1", "label_col": "label", "raw_path": str(raw), **extra}
    with pytest.raises(DataError, match=message):
        create_data(CreateDataParams.parse(fields))
    assert not list((tmp_path / "local").rglob("*.parquet"))  # nothing written
