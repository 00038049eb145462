"""create_data end to end through the library: the guarantees a user builds on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bricksml.data import sample
from bricksml.data.quality import normalized_text
from bricksml.errors import DataError, ParameterError, VersionExistsError
from bricksml.jobs.create_data import create_data
from bricksml.params import CreateDataParams


@pytest.fixture
def raw_csv(tmp_path: Path, local_workspace: Path) -> Path:
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


def test_tabular_data_and_a_rare_class(tmp_path: Path, local_workspace: Path) -> None:
    raw = tmp_path / "customers.parquet"
    frame = sample.customers(600, 1)
    frame.to_parquet(raw, index=False)
    params = {"data_name": "cust", "data_version": "v1", "label_col": "customer_segment"}
    result = create_data(CreateDataParams.parse({**params, "raw_path": str(raw), "id_col": "customer_id"}))
    assert result.manifest["task"] == "classification" and result.manifest["features"] == "tabular"
    assert "customer_id" not in result.manifest["feature_columns"]
    frame.loc[frame.index[:2], "customer_segment"] = "vip"
    frame.loc[frame.index[2:], "customer_segment"] = frame["customer_segment"].iloc[2:].replace("vip", "x")
    frame.to_parquet(raw, index=False)
    with pytest.raises(DataError, match=r"class 'vip' of label_col 'customer_segment' has 2 rows"):
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


# -- results a user can trust: every record accounted for, rare classes and leaks named ----------


def _tabular(
    tmp_path: Path, frame: pd.DataFrame, name: str = "raw.parquet", **extra: str
) -> CreateDataParams:
    raw = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(raw, index=False)
    values = {"data_name": "t", "data_version": "v1", "label_col": "customer_segment", "raw_path": str(raw)}
    return CreateDataParams.parse({**values, "id_col": "customer_id", **extra})


@pytest.fixture
def local(local_workspace: Path) -> Path:
    return local_workspace


def test_every_record_of_a_tsv_with_a_stray_quote_is_accounted_for(tmp_path: Path, local: Path) -> None:
    frame = sample.sentiment(400, 3)
    frame.loc[7, "Sentence"] = '"Shares jump, says the CEO'  # a quote that never closes
    raw = tmp_path / "raw.tsv"
    frame.to_csv(raw, sep="\t", index=False, quoting=3)  # written as tab-separated text, no quoting
    result = create_data(_params(raw))
    rows = result.quality["rows"]
    assert rows["records_in_file"] == raw.read_text().count("\n") - 1 == 400
    assert rows["read"] == 400 and rows["dropped"]["bad_records"] == 0
    assert rows["records_in_file"] == rows["kept"] + sum(rows["dropped"].values())
    assert result.manifest["sources"][0]["quoting"] == "none"
    kept = pd.concat(pd.read_parquet(Path(result.path) / f"{s}.parquet") for s in result.splits)
    assert '"Shares jump, says the CEO' in set(kept["Sentence"])


def test_a_merged_csv_record_fails_by_default_and_is_dropped_when_asked(tmp_path: Path, local: Path) -> None:
    raw = tmp_path / "raw.csv"
    sample.sentiment(300, 4).to_csv(raw, index=False)
    lines = raw.read_text().split("\n")
    lines[5] = '6,"Shares jump 5% on the news,positive'  # opens a quote: the next lines join it
    raw.write_text("\n".join(lines))
    with pytest.raises(DataError, match=r"raw file 'raw.csv': 1 of \d+ records .*lines 6-\d+ are one record"):
        create_data(_params(raw))
    assert not list(local.rglob("*.parquet")), "nothing written"
    result = create_data(_params(raw, bad_records="drop"))
    bad = result.quality["bad_records"]
    assert (bad["found"], bad["dropped"], bad["action"]) == (1, 1, "drop")
    assert bad["examples"][0]["line"] == 6 and bad["examples"][0]["kind"] == "merged"
    rows = result.quality["rows"]
    assert rows["dropped"]["bad_records"] == 1 and rows["read"] == rows["records_in_file"] - 1
    assert any("dropped 1 bad records (raw.csv line 6" in line for line in result.findings)


def test_a_headerless_file_without_extension(tmp_path: Path, local: Path) -> None:
    raw = tmp_path / "export"
    sample.sentiment(200, 5).to_csv(raw, index=False, header=False)
    fields = {"header": "false", "columns": "id,Sentence,Sentiment"}
    result = create_data(_params(raw, **fields))
    assert result.quality["rows"]["read"] == 200 and result.manifest["sources"][0]["format"] == "csv"
    explicit = create_data(_params(raw, data_version="v2", format="csv", **fields))
    assert explicit.splits == result.splits
    with pytest.raises(
        ParameterError, match="'columns' parameter of create_data must be empty when header is true"
    ):
        _params(raw, columns="id,Sentence,Sentiment")
    with pytest.raises(ParameterError, match=r"'columns' parameter .* when header is false"):
        _params(raw, header="false")
    with pytest.raises(DataError, match=r"columns gives 2 names but the first record of raw file 'export'"):
        create_data(_params(raw, data_version="v3", header="false", columns="Sentence,Sentiment"))


def test_a_six_row_class_fails_or_stays_in_train_and_the_manifest_says_so(
    tmp_path: Path, local: Path
) -> None:
    frame = sample.customers(600, 2)
    frame["customer_segment"] = frame["customer_segment"].replace("low_value", "medium_value")
    frame.loc[frame.index[:6], "customer_segment"] = "vip"
    with pytest.raises(DataError) as info:
        create_data(_tabular(tmp_path, frame))
    message = str(info.value)
    assert (
        "class 'vip' of label_col 'customer_segment' has 6 rows, too few to reach the holdout split"
        in message
    )
    assert "rare_classes=train" in message
    result = create_data(_tabular(tmp_path, frame, rare_classes="train"))
    assert result.labels["train"]["vip"] == 6
    assert result.labels["test"]["vip"] == result.labels["holdout"]["vip"] == 0
    assert result.manifest["quality"]["rare_classes"] == {"vip": 6}
    assert any("'vip' (6 rows) is in train only" in line for line in result.findings)
    assert sum(result.splits.values()) == 600, "the split sizes still add up"


def _campaigns(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    goal = rng.lognormal(9, 1, rows).round(0)
    success = rng.random(rows) < 0.45
    raised = np.where(success, goal * rng.uniform(1.0, 1.8, rows), goal * rng.uniform(0.0, 0.95, rows))
    return pd.DataFrame(
        {
            "customer_id": [f"K{i}" for i in rng.permutation(rows)],
            "goal": goal,
            "raised": raised.round(2),
            "backers": rng.poisson(40, rows),
            "category": rng.choice(["art", "film", "games"], rows),
            "customer_segment": np.where(success, "success", "failure"),
        }
    )


def test_a_leaking_column_is_named_in_the_manifest_and_fails_when_asked(tmp_path: Path, local: Path) -> None:
    frame = _campaigns(1500)
    frame["row_number"] = np.arange(len(frame))
    result = create_data(_tabular(tmp_path, frame))
    found = {leak["column"]: leak["kind"] for leak in result.manifest["quality"]["suspected_leaks"]}
    assert found == {"raised": "predictive", "row_number": "id_like"}
    assert any('feature_params {"drop_columns": ["raised"]}' in line for line in result.findings)
    assert any("set id_col=row_number" in line for line in result.findings)
    with pytest.raises(
        DataError, match=r"^leaks: suspected leaks in the feature columns: 'raised' \(predictive\)"
    ):
        create_data(_tabular(tmp_path, frame, data_version="v2", leaks="fail"))
    assert not (local / "Volumes/main/bricksml/data/t/v2").exists()
    clean = create_data(_tabular(tmp_path, frame.drop(columns=["raised", "row_number"]), data_version="v3"))
    assert clean.manifest["quality"]["suspected_leaks"] == []
