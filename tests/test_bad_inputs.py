"""The catalogue of bad inputs: each is one line on stderr, a documented exit code, and nothing left.

Every case runs a CLI command in-process (``create-data``, ``train``, ``infer``) on input it makes
itself, and checks: not exit 70 (a bug), the exit code the README's table gives, one ``error:`` line
with the words that name the value and what to do, and no file added or changed anywhere under the
local workspace (no data version, no run artifacts, no predictions) nor outside it. The data
versions and the model the cases need are built once for the module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from bricksml.cli.main import main
from bricksml.data import sample
from bricksml.errors import ExitCode

DATA = Path("Volumes/main/bricksml/data")
MODEL = "main.bricksml.bad_inputs_cu"
ROWS = 300
#: What MLflow itself may print on stderr (its logger, the registry's progress): not bricksml's line.
MLFLOW_NOISE = re.compile(
    r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \w+ mlflow|Successfully registered|Created version)"
)


@dataclass(frozen=True)
class Ctx:
    """What a case builds its input from: the workspace, a folder of its own, its data."""

    root: Path
    raw: Path
    name: str
    holdout: pd.DataFrame


@dataclass(frozen=True)
class Case:
    """A bad input: the command line it makes, its exit code, the words its one line holds."""

    make: Callable[[Ctx], list[str]]
    code: int
    says: tuple[str, ...]


def _create(
    ctx: Ctx, raw: Path, *flags: str, label: str = "Sentiment", text: str | None = "Sentence"
) -> list[str]:
    argv = ["create-data", "--data-name", ctx.name, "--data-version", "v1", "--raw-path", str(raw)]
    argv += ["--label-col", label, *(["--text-col", text] if text else []), *flags]
    return argv


def _tabular(ctx: Ctx, raw: Path, *flags: str) -> list[str]:
    return _create(ctx, raw, "--id-col", "customer_id", *flags, label="customer_segment", text=None)


def _sentences(rows: int = ROWS) -> pd.DataFrame:
    return sample.sentiment(rows, 5)[["Sentence", "Sentiment"]]


def _customers(rows: int = ROWS) -> pd.DataFrame:
    return sample.customers(rows, 5)


# -- create-data --------------------------------------------------------------------------------


def _header_twice_once_stripped(ctx: Ctx) -> list[str]:
    body = _sentences().assign(extra="x").to_csv(index=False).split("\n", 1)[1]
    (ctx.raw / "raw.csv").write_text("Sentence,Sentiment, Sentiment\n" + body)
    return _create(ctx, ctx.raw / "raw.csv")


def _header_twice_exactly(ctx: Ctx) -> list[str]:
    # pandas would read the second one as 'Sentiment.1' and train on the first without a word.
    body = _sentences().assign(extra="positive").to_csv(index=False).split("\n", 1)[1]
    (ctx.raw / "raw.csv").write_text("Sentence,Sentiment,Sentiment\n" + body)
    return _create(ctx, ctx.raw / "raw.csv")


def _folder_of_two_types(ctx: Ctx) -> list[str]:
    frame = _customers()
    frame.iloc[: ROWS // 2].to_csv(ctx.raw / "a.csv", index=False)
    later = frame.iloc[ROWS // 2 :].copy()
    later["age"] = later["age"].astype(str)
    later.iloc[4, later.columns.get_loc("age")] = "unknown"
    later.to_csv(ctx.raw / "b.csv", index=False)
    return _tabular(ctx, ctx.raw)


def _parquet_with(ctx: Ctx, column: str, values: list) -> Path:
    frame = _customers()
    frame[column] = values
    frame.to_parquet(ctx.raw / "raw.parquet", index=False)
    return ctx.raw / "raw.parquet"


def _list_feature(ctx: Ctx) -> list[str]:
    return _tabular(ctx, _parquet_with(ctx, "tags", [[i % 3, 1] for i in range(ROWS)]))


def _struct_feature(ctx: Ctx) -> list[str]:
    return _tabular(ctx, _parquet_with(ctx, "address", [{"city": "Espoo", "zip": i} for i in range(ROWS)]))


def _list_label(ctx: Ctx) -> list[str]:
    return _tabular(ctx, _parquet_with(ctx, "customer_segment", [[i % 2] for i in range(ROWS)]))


def _name_too_long(ctx: Ctx) -> list[str]:
    _sentences().to_csv(ctx.raw / "raw.csv", index=False)
    argv = _create(ctx, ctx.raw / "raw.csv")
    argv[argv.index("--data-name") + 1] = "n" * 300
    return argv


def _half_utf8_half_cp1252(ctx: Ctx) -> list[str]:
    lines = _sentences().to_csv(index=False).splitlines()
    half = len(lines) // 2
    utf8 = "\n".join([*lines[:half], "Profit at Nestlé rose,positive"]).encode("utf-8")
    cp1252 = "\n".join(["Loss of 5 € in Espoo,negative", *lines[half:]]).encode("cp1252")
    (ctx.raw / "raw.csv").write_bytes(utf8 + b"\n" + cp1252 + b"\n")
    return _create(ctx, ctx.raw / "raw.csv")


def _data_root_climbs_out(ctx: Ctx) -> list[str]:
    _sentences().to_csv(ctx.raw / "raw.csv", index=False)
    return _create(ctx, ctx.raw / "raw.csv", "--data-root", "/Volumes/../../etc")


def _record_with_extra_fields(ctx: Ctx) -> list[str]:
    lines = _sentences().to_csv(index=False).splitlines()
    lines[7] += ",surplus"
    (ctx.raw / "raw.csv").write_text("\n".join(lines) + "\n")
    return _create(ctx, ctx.raw / "raw.csv")


def _json_numbers_and_text(ctx: Ctx) -> list[str]:
    frame = _customers()
    frame["age"] = frame["age"].astype(object)
    frame.iloc[9, frame.columns.get_loc("age")] = "70y"
    frame.to_json(ctx.raw / "raw.jsonl", orient="records", lines=True)
    return _tabular(ctx, ctx.raw / "raw.jsonl")


def _missing_label_column(ctx: Ctx) -> list[str]:
    _sentences().to_csv(ctx.raw / "raw.csv", index=False)
    return _create(ctx, ctx.raw / "raw.csv", label="sentiment")


def _empty_file(ctx: Ctx) -> list[str]:
    (ctx.raw / "raw.csv").write_text("")
    return _create(ctx, ctx.raw / "raw.csv")


def _existing_version_other_content(ctx: Ctx) -> list[str]:
    argv = _create(ctx, ctx.root / "fs.csv", "--id-col", "id", "--seed", "7")
    argv[argv.index("--data-name") + 1] = "fs"  # built by the module with seed 42
    return argv


def _test_size_out_of_range(ctx: Ctx) -> list[str]:
    _sentences().to_csv(ctx.raw / "raw.csv", index=False)
    return _create(ctx, ctx.raw / "raw.csv", "--test-size", "1.5")


def _regression_label_with_text(ctx: Ctx) -> list[str]:
    frame = _customers()
    frame["total_spent"] = np.round(np.linspace(10, 900, ROWS), 2).astype(object)
    frame.iloc[[4, 40], frame.columns.get_loc("total_spent")] = ["unknown", "see notes"]
    frame.drop(columns="customer_segment").to_csv(ctx.raw / "raw.csv", index=False)
    return _create(
        ctx,
        ctx.raw / "raw.csv",
        "--id-col",
        "customer_id",
        "--task",
        "regression",
        label="total_spent",
        text=None,
    )


def _regression_of_a_text_label(ctx: Ctx) -> list[str]:
    _sentences().to_csv(ctx.raw / "raw.csv", index=False)
    return _create(ctx, ctx.raw / "raw.csv", "--task", "regression")


def _text_col_of_numbers(ctx: Ctx) -> list[str]:
    _customers().to_csv(ctx.raw / "raw.csv", index=False)
    return _create(ctx, ctx.raw / "raw.csv", "--id-col", "customer_id", label="customer_segment", text="age")


def _unknown_flag(ctx: Ctx) -> list[str]:
    _sentences().to_csv(ctx.raw / "raw.csv", index=False)
    return _create(ctx, ctx.raw / "raw.csv", "--lable-col", "Sentiment")  # a typo


# -- train ----------------------------------------------------------------------------------------


def _train(data: str, *flags: str) -> Callable[[Ctx], list[str]]:
    def make(ctx: Ctx) -> list[str]:
        argv = ["train", "--data-name", data, "--data-version", "v1", "--gate-mode", "disabled"]
        return [*argv, "--experiment-name", f"/Shared/bad_inputs/{ctx.name}", *flags]

    return make


# -- infer ----------------------------------------------------------------------------------------


def _infer(make_input: Callable[[Ctx], Path], model: str = MODEL) -> Callable[[Ctx], list[str]]:
    def make(ctx: Ctx) -> list[str]:
        argv = ["infer", "--model-uri", f"models:/{model}/1", "--input-path", str(make_input(ctx))]
        return [*argv, "--output-root", str(ctx.root / "predictions" / ctx.name)]

    return make


def _without_age(ctx: Ctx) -> Path:
    ctx.holdout.drop(columns="age").to_csv(ctx.raw / "in.csv", index=False)
    return ctx.raw / "in.csv"


def _truncated_parquet(ctx: Ctx) -> Path:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(_customers(2000), preserve_index=False), sink, compression="zstd")
    data = sink.getvalue().to_pybytes()
    (ctx.raw / "in.parquet").write_bytes(data[: len(data) // 2])
    return ctx.raw / "in.parquet"


def _good_input(ctx: Ctx) -> Path:
    ctx.holdout.to_csv(ctx.raw / "in.csv", index=False)
    return ctx.raw / "in.csv"


CASES = {
    # create-data: the raw files
    "create_header_twice_once_stripped": Case(
        _header_twice_once_stripped, 3, ("'raw.csv'", "'Sentiment' twice", "' Sentiment'", "rename one")
    ),
    "create_header_twice_exactly": Case(
        _header_twice_exactly, 3, ("'raw.csv'", "'Sentiment' twice", "fields 2 and 3")
    ),
    "create_folder_files_of_two_types": Case(
        _folder_of_two_types, 3, ("'age'", "integers in raw file 'a.csv'", "text in 'b.csv'", "'unknown'")
    ),
    "create_list_feature": Case(_list_feature, 3, ("column 'tags' holds lists", "flatten")),
    "create_struct_feature": Case(_struct_feature, 3, ("column 'address' holds records", "flatten")),
    "create_list_label": Case(_list_label, 3, ("label_col 'customer_segment' holds lists", "[0]")),
    "create_half_utf8_half_cp1252": Case(
        _half_utf8_half_cp1252,
        3,
        ("'raw.csv'", "mixes text encodings", "UTF-8 ('é')", "byte 0x80", "re-save"),
    ),
    "create_record_with_extra_fields": Case(
        _record_with_extra_fields, 3, ("'raw.csv'", "line 8 has 3 fields", "bad_records=drop")
    ),
    "create_json_numbers_and_text": Case(
        _json_numbers_and_text, 3, ("'age'", "'raw.jsonl'", "integers and text", "row 10: '70y'")
    ),
    "create_missing_label_column": Case(
        _missing_label_column, 3, ("label_col 'sentiment'", "name one of those")
    ),
    "create_empty_file": Case(_empty_file, 3, ("'raw.csv' is empty",)),
    # create-data: the parameters and the store
    "create_name_too_long": Case(_name_too_long, 2, ("'data_name'", "at most 128 characters", "not 300")),
    "create_data_root_climbs_out": Case(
        _data_root_climbs_out, 2, ("'/Volumes/../../etc'", "climbs out of /Volumes")
    ),
    "create_test_size_out_of_range": Case(_test_size_out_of_range, 2, ("'test_size'", "between 0 and 1")),
    "create_unknown_flag": Case(_unknown_flag, 2, ("unrecognized arguments: --lable-col",)),
    # create-data: the task and the column roles
    "create_regression_label_with_text": Case(
        _regression_label_with_text,
        3,
        (
            "label_col 'total_spent'",
            "2 non-numeric values",
            "'unknown' in row 5",
            "fix or empty those values",
        ),
    ),
    "create_regression_of_a_text_label": Case(
        _regression_of_a_text_label,
        3,
        ("label_col 'Sentiment' holds text", "task=regression needs a numeric label", "task=classification"),
    ),
    "create_text_col_of_numbers": Case(
        _text_col_of_numbers, 3, ("text_col 'age' holds integers", "in row 1", "leave text_col empty")
    ),
    "create_existing_version_other_content": Case(
        _existing_version_other_content, 4, ("'v1' of 'fs' already exists with different content",)
    ),
    # train
    "train_min_df_above_the_texts": Case(
        _train("fs", "--feature-params", '{"min_df": 100000}'), 2, ("feature_params", "more texts than")
    ),
    "train_token_pattern_does_not_compile": Case(
        _train("fs", "--feature-params", '{"token_pattern": "("}'),
        2,
        ("feature_params", "not a valid regular expression"),
    ),
    "train_n_estimators_a_billion": Case(
        _train("cu", "--model-type", "random_forest", "--model-params", '{"n_estimators": 1000000000}'),
        2,
        ("model_params", "n_estimators is at most 5,000"),
    ),
    "train_model_params_not_json": Case(
        _train("cu", "--model-params", "{C: 1}"), 2, ("model_params", "JSON object")
    ),
    "train_infinite_value": Case(_train("inf"), 3, ("'y' holds 1 infinite value",)),
    "train_date_column": Case(_train("dates"), 3, ("'when' holds dates",)),
    "train_data_version_missing": Case(
        _train("never_created"), 3, ("never_created/v1 not found", "create_data")
    ),
    # train: the task
    "train_regression_task_on_a_classification_version": Case(
        _train("cu", "--task", "regression"),
        2,
        ("'task'", "data version cu/v1 was made for classification", "task=regression", "'regression'"),
    ),
    "train_classifier_only_type_on_a_regression_version": Case(
        _train("rg", "--model-type", "naive_bayes"),
        2,
        ("'model_type'", "a model type with a regression model (ridge", "'naive_bayes'"),
    ),
    "train_gate_metric_of_the_other_task": Case(
        _train("cu", "--gate-metric", "rmse"),
        2,
        ("'gate_metric'", "a classification metric (f1_macro, f1_weighted, accuracy)", "'rmse'"),
    ),
    "train_gate_minimum_for_an_error": Case(
        _train("rg", "--gate-metric", "rmse", "--gate-min", "0.5"),
        2,
        ("'gate_min'", "an error where lower is better (set gate_max)", "0.5"),
    ),
    # infer
    "infer_missing_model_column": Case(_infer(_without_age), 3, ("lacks the model's column(s) ['age']",)),
    "infer_truncated_parquet": Case(
        _infer(_truncated_parquet), 3, ("'in.parquet'", "could not be read as parquet")
    ),
    "infer_model_version_missing": Case(
        _infer(_good_input, "main.bricksml.bad_inputs_none"),
        2,
        ("main.bricksml.bad_inputs_none", "no version 1"),
    ),
}


@pytest.fixture(scope="module")
def built(workspace: Path) -> Iterator[dict]:
    """The data versions the train cases read, one the existing-version case collides with, a model."""
    from bricksml.jobs.create_data import create_data
    from bricksml.jobs.train_models import train_models
    from bricksml.params import CreateDataParams, TrainParams

    rng = np.random.default_rng(0)
    base = pd.DataFrame(
        {"id": np.arange(ROWS), "x": rng.normal(size=ROWS), "label": rng.choice(["a", "b"], ROWS)}
    )
    y = np.linspace(0, 1, ROWS)
    y[7] = np.inf
    sets = {
        "fs": (sample.sentiment(ROWS, 5), {"label_col": "Sentiment", "text_col": "Sentence", "id_col": "id"}),
        "cu": (_customers(), {"label_col": "customer_segment", "id_col": "customer_id"}),
        "inf": (base.assign(y=y), {"label_col": "label", "id_col": "id"}),
        "dates": (
            base.assign(when=pd.date_range("2024-01-01", periods=ROWS, freq="h")),
            {"label_col": "label"},
        ),
        "rg": (
            sample.order_reviews(ROWS, 5),
            {"label_col": "review_score", "text_col": "review_comment_message", "task": "regression"},
        ),
    }
    for name, (frame, columns) in sets.items():
        raw = workspace / (f"{name}.csv" if name in ("fs", "cu") else f"{name}.parquet")
        frame.to_csv(raw, index=False) if raw.suffix == ".csv" else frame.to_parquet(raw, index=False)
        create_data(
            CreateDataParams.parse({"data_name": name, "data_version": "v1", "raw_path": str(raw), **columns})
        )
    train_models(
        TrainParams.parse(
            {"data_name": "cu", "data_version": "v1", "model_name": MODEL, "gate_mode": "disabled"}
        )
    )
    holdout = pd.read_parquet(workspace / DATA / "cu/v1/holdout.parquet")
    yield {"root": workspace, "holdout": holdout}


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under the workspace (and beside it) with its size and time; MLflow's own files aside.

    Beside it: a path that climbs out of the mirror would land in the workspace's parent folder.
    """
    paths = {}
    for path in [*root.rglob("*"), *root.parent.iterdir()]:
        # MLflow's database, and the metadata MLflow writes beside a model each time it loads it.
        if path.name.startswith("mlflow.db") or path.name == "registered_model_meta":
            continue
        stat = path.lstat()  # a folder's own size and time change with its entries: only that it is there
        paths[str(path)] = (0, 0) if path.is_dir() else (stat.st_size, stat.st_mtime_ns)
    return paths


def _versions() -> int:
    return sum(
        len(MlflowClient().search_model_versions(f"name = '{m.name}'"))
        for m in MlflowClient().search_registered_models()
    )


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_catalogue_every_bad_input_is_one_line_with_its_exit_code_and_leaves_nothing(
    built: dict, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    spec, root = CASES[case], built["root"]
    ctx = Ctx(root, root / "raw" / case, case, built["holdout"])
    ctx.raw.mkdir(parents=True)
    argv = spec.make(ctx)
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    versions, before = _versions(), _snapshot(root)
    capsys.readouterr()

    code = main(argv)
    err = capsys.readouterr().err

    assert code != ExitCode.INTERNAL, f"{case} ended as an internal error: {err}"
    assert code == spec.code, err
    lines = [line for line in err.strip().splitlines() if not MLFLOW_NOISE.match(line)]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert err.strip().splitlines()[-1] == lines[0], err  # nothing after the error line
    for words in spec.says:
        assert words in lines[0], (words, lines[0])
    after = _snapshot(root)
    assert sorted(set(after) - set(before)) == [], "left behind"
    assert {p: v for p, v in after.items() if before[p] != v} == {}, "changed"
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    assert _versions() == versions
    if argv[0] == "train":
        assert mlflow.get_experiment_by_name(f"/Shared/bad_inputs/{case}") is None


def test_the_model_the_infer_cases_use_scores_good_input(
    built: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    """The infer cases fail for their input, not for the model: the same model scores a good file."""
    root = built["root"]
    ctx = Ctx(root, root / "raw" / "good", "good", built["holdout"])
    ctx.raw.mkdir(parents=True)
    assert main([*_infer(_good_input)(ctx), "--output", "json"]) == 0, capsys.readouterr().err
    data = json.loads(capsys.readouterr().out)["data"]
    assert data["rows"] == len(built["holdout"])


def test_the_longest_name_the_contract_takes_is_a_folder_the_file_system_takes(
    built: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    """128 characters, as data_name and as data_version: the version (and its temporary folder) is made."""
    root, name = built["root"], "n" * 128
    argv = [
        "create-data",
        "--data-name",
        name,
        "--data-version",
        "v" * 128,
        "--raw-path",
        str(root / "fs.csv"),
    ]
    assert main([*argv, "--label-col", "Sentiment", "--text-col", "Sentence"]) == 0, capsys.readouterr().err
    assert (root / DATA / name / ("v" * 128) / "manifest.json").is_file()


def test_the_catalogue_covers_every_command_and_counts_its_cases() -> None:
    commands = {name.split("_", 1)[0] for name in CASES}
    assert commands == {"create", "train", "infer"}
    assert {case.code for case in CASES.values()} == {2, 3, 4}
    assert len(CASES) == 33
