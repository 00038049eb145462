"""Every bad inference input is a user error: one line, a documented exit code, nothing written.

Exit 3 for the input (a value the model's column type cannot take, a corrupt file, a column twice),
exit 2 for an output root that cannot take the predictions (a file in the way, read-only, full).
The catalogue below runs each case through the CLI in-process; none may end as exit 70.
"""

from __future__ import annotations

import errno
import json
import pathlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow.models import infer_signature

from bricksml.cli.main import main
from bricksml.data import sample
from bricksml.errors import ExitCode
from bricksml.inference import source
from bricksml.jobs.create_data import create_data
from bricksml.jobs.train_models import train_models
from bricksml.params import CreateDataParams, TrainParams

TABULAR = "main.bricksml.inputs_cu"
TEXT = "main.bricksml.inputs_fs"
DATA = Path("Volumes/main/bricksml/data")


@pytest.fixture(scope="module")
def models(workspace: Path) -> Iterator[dict]:
    """A tabular and a text model, registered from data versions of their own."""
    root = workspace
    sets = {
        "cu": (sample.customers(600, 7), {"label_col": "customer_segment", "id_col": "customer_id"}),
        "fs": (
            sample.sentiment(600, 7),
            {"label_col": "Sentiment", "text_col": "Sentence", "id_col": "id"},
        ),
    }
    for name, (frame, columns) in sets.items():
        raw = root / f"{name}.csv"
        frame.to_csv(raw, index=False)
        create_data(
            CreateDataParams.parse({"data_name": name, "data_version": "v1", "raw_path": str(raw), **columns})
        )
    for name, model in (("cu", TABULAR), ("fs", TEXT)):
        train_models(
            TrainParams.parse(
                {"data_name": name, "data_version": "v1", "model_name": model, "gate_mode": "disabled"}
            )
        )
    holdout = pd.read_parquet(root / DATA / "cu/v1/holdout.parquet")
    yield {"root": root, "holdout": holdout}


def _infer(model: str, input_path: Path, out: Path, *extra: str) -> int:
    argv = ["infer", "--model-uri", f"models:/{model}/1", "--input-path", str(input_path)]
    return main([*argv, "--output-root", str(out), *extra])


def _nothing_written(out: Path) -> bool:
    return not out.exists() or not any(out.rglob("*"))


# -- the catalogue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A bad input: how to make it (returns the input path), the exit code, what the line says."""

    make: Callable[[Path, pd.DataFrame, pytest.MonkeyPatch, Path], Path]
    code: int
    says: tuple[str, ...]


def _age_70y(holdout: pd.DataFrame, as_text: bool) -> pd.DataFrame:
    frame = holdout.copy()
    frame["age"] = frame["age"].astype(str) if as_text else frame["age"].astype(object)
    frame.loc[frame.index[2], "age"] = "70y"
    return frame


def _csv_70y(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    _age_70y(holdout, True).to_csv(tmp / "in.csv", index=False)
    return tmp / "in.csv"


def _parquet_70y(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    _age_70y(holdout, True).to_parquet(tmp / "in.parquet", index=False)
    return tmp / "in.parquet"


def _jsonl_70y(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    # JSON numbers with one string among them: 47, 49, "70y", ...
    _age_70y(holdout, False).to_json(tmp / "in.jsonl", orient="records", lines=True)
    return tmp / "in.jsonl"


def _infinite(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    frame = holdout.copy()
    frame.loc[frame.index[1], "annual_income"] = np.inf
    frame.to_parquet(tmp / "in.parquet", index=False)
    return tmp / "in.parquet"


def _timestamps(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    frame = holdout.assign(age=pd.Timestamp("2024-01-01"))
    frame.to_parquet(tmp / "in.parquet", index=False)
    return tmp / "in.parquet"


def _twice_csv(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    text = holdout.to_csv(index=False)
    header, rest = text.split("\n", 1)
    first = rest.split("\n", 1)[0]
    # "age" twice: the second copy holds other values, so which one is scored matters.
    (tmp / "in.csv").write_text(header + ",age\n" + "\n".join(f"{r},1" for r in [first] * 3) + "\n")
    return tmp / "in.csv"


def _twice_parquet(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    table = pa.Table.from_pandas(holdout, preserve_index=False)
    table = table.append_column("age", pa.array(np.ones(len(holdout))))
    pq.write_table(table, tmp / "in.parquet")
    return tmp / "in.parquet"


def _valid_parquet_bytes() -> bytes:
    """A complete Parquet file of the model's columns, with pages worth corrupting (not repetitive)."""
    sink = pa.BufferOutputStream()
    frame = sample.customers(3000, 11)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _truncated(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    data = _valid_parquet_bytes()
    (tmp / "in.parquet").write_bytes(data[: len(data) // 2])
    return tmp / "in.parquet"


def _empty_parquet(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    (tmp / "in.parquet").write_bytes(b"")
    return tmp / "in.parquet"


def _corrupt_pages(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    data = bytearray(_valid_parquet_bytes())
    pages_end = len(data) - 8 - pq.ParquetFile(pa.BufferReader(bytes(data))).metadata.serialized_size
    start, stop = pages_end // 4, pages_end // 2
    data[start:stop] = bytes(stop - start)  # the footer stays: some pages are zeros
    (tmp / "in.parquet").write_bytes(bytes(data))
    pq.ParquetFile(tmp / "in.parquet")  # its schema still reads: the failure comes mid-scoring
    return tmp / "in.parquet"


def _bad_json_line(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    lines = holdout.to_json(orient="records", lines=True).splitlines()
    lines[1] = lines[1][: len(lines[1]) // 2]
    (tmp / "in.jsonl").write_text("\n".join(lines) + "\n")
    return tmp / "in.jsonl"


def _ragged_csv(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    lines = holdout.to_csv(index=False).splitlines()
    lines[2] += ",extra"
    (tmp / "in.csv").write_text("\n".join(lines) + "\n")
    return tmp / "in.csv"


def _missing_column(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    holdout.drop(columns="age").to_csv(tmp / "in.csv", index=False)
    return tmp / "in.csv"


def _header_only(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    holdout.head(0).to_csv(tmp / "in.csv", index=False)
    return tmp / "in.csv"


def _unknown_extension(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    holdout.to_csv(tmp / "in.xlsx", index=False)
    return tmp / "in.xlsx"


def _empty_folder(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    (tmp / "folder").mkdir()
    (tmp / "folder" / "notes.md").write_text("no data here")
    return tmp / "folder"


def _folder_of_other_types(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    folder = tmp / "folder"
    folder.mkdir()
    holdout.assign(customer_id=np.arange(len(holdout))).to_parquet(folder / "a.parquet", index=False)
    holdout.to_parquet(folder / "b.parquet", index=False)  # customer_id "C100..." cannot be a number
    return folder


def _good_csv(tmp: Path, holdout: pd.DataFrame) -> Path:
    holdout.to_csv(tmp / "in.csv", index=False)
    return tmp / "in.csv"


def _output_under_a_file(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("a file where the output root should be")
    return _good_csv(tmp, holdout)


def _output_read_only(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    # Root ignores permission bits: the read-only mount is simulated where pathlib creates folders.
    out.mkdir(parents=True)
    real = pathlib.Path.mkdir

    def mkdir(self: pathlib.Path, *args: object, **kwargs: object) -> None:
        if self.is_relative_to(out):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        real(self, *args, **kwargs)

    mp.setattr(pathlib.Path, "mkdir", mkdir)
    return _good_csv(tmp, holdout)


def _output_disk_full(tmp: Path, holdout: pd.DataFrame, mp: pytest.MonkeyPatch, out: Path) -> Path:
    def full(self: pq.ParquetWriter, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    mp.setattr(pq.ParquetWriter, "write_table", full)
    return _good_csv(tmp, holdout)


NOT_A_NUMBER = ("'age'", "numbers (double)", "row 3", "'70y'")
CASES = {
    "csv_value_not_a_number": Case(_csv_70y, 3, NOT_A_NUMBER),
    "parquet_value_not_a_number": Case(_parquet_70y, 3, NOT_A_NUMBER),
    "jsonl_value_not_a_number": Case(_jsonl_70y, 3, NOT_A_NUMBER),
    "infinite_number": Case(_infinite, 3, ("'annual_income'", "finite numbers", "row 2")),
    "column_of_another_type": Case(_timestamps, 3, ("'age'", "timestamp", "numbers (double)")),
    "csv_column_twice": Case(_twice_csv, 3, ("'age'", "twice")),
    "parquet_column_twice": Case(_twice_parquet, 3, ("'age'", "twice")),
    "truncated_parquet": Case(_truncated, 3, ("'in.parquet'", "could not be read as parquet")),
    "empty_parquet": Case(_empty_parquet, 3, ("'in.parquet'", "could not be read as parquet")),
    "corrupt_parquet_pages": Case(_corrupt_pages, 3, ("'in.parquet'", "could not be read as parquet")),
    "bad_json_line": Case(_bad_json_line, 3, ("'in.jsonl'", "could not be read as jsonl")),
    "ragged_csv_row": Case(_ragged_csv, 3, ("'in.csv'", "could not be read as csv")),
    "missing_column": Case(_missing_column, 3, ("lacks the model's column(s) ['age']",)),
    "no_rows": Case(_header_only, 3, ("no rows to score",)),
    "unknown_file_type": Case(_unknown_extension, 3, ("input_path", "in.xlsx")),
    "folder_without_data": Case(_empty_folder, 3, ("input_path", "holds no file")),
    "folder_of_other_types": Case(_folder_of_other_types, 3, ("'customer_id'", "same types")),
    "output_root_under_a_file": Case(_output_under_a_file, 2, ("output_root", "is a file, not a folder")),
    "output_root_read_only": Case(_output_read_only, 2, ("output_root", "not writable")),
    "output_root_disk_full": Case(_output_disk_full, 2, ("output_root", "no space left")),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_catalogue_every_bad_input_is_one_line_with_its_exit_code_and_writes_nothing(
    models: dict, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    spec = CASES[case]
    out = tmp_path / "out" / "predictions"
    input_path = spec.make(tmp_path, models["holdout"], monkeypatch, out)
    before = out.read_text() if out.is_file() else None
    code = _infer(TABULAR, input_path, out)
    err = capsys.readouterr().err
    assert code != ExitCode.INTERNAL, f"{case} ended as an internal error: {err}"
    assert code == spec.code, err
    assert len(err.strip().splitlines()) == 1, err
    for fragment in spec.says:
        assert fragment in err, (fragment, err)
    if before is not None:
        assert out.read_text() == before  # the file in the way is untouched
    else:
        assert _nothing_written(out), sorted(out.rglob("*"))


# -- what still scores --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_tabular_input_in_every_format_scores_with_the_model_s_types(
    models: dict, tmp_path: Path, capsys, suffix: str
) -> None:
    holdout = models["holdout"]
    path = tmp_path / f"in{suffix}"
    if suffix == ".csv":
        holdout.to_csv(path, index=False)
    elif suffix == ".jsonl":
        holdout.to_json(path, orient="records", lines=True)
    else:
        holdout.astype({"age": "float64"}).to_parquet(path, index=False)  # another numeric type
    out = tmp_path / "out"
    code = _infer(TABULAR, path, out)
    assert code == 0, capsys.readouterr().err
    predictions = pd.read_parquet(next(out.rglob("predictions.parquet")))
    model = mlflow.sklearn.load_model(f"models:/{TABULAR}/1")
    features = holdout.drop(columns=["customer_segment"])
    assert predictions["prediction"].astype(str).tolist() == model.predict(features).tolist()


def test_null_text_is_scored_as_empty_text_through_the_cli(models: dict, tmp_path: Path, capsys) -> None:
    path = tmp_path / "in.parquet"
    pd.DataFrame({"id": [1, 2, 3], "Sentence": ["Profit rose 20%", None, ""]}).to_parquet(path, index=False)
    code = _infer(TEXT, path, tmp_path / "out", "--output", "json")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["data"]["null_text"] == 1
    predictions = pd.read_parquet(next((tmp_path / "out").rglob("predictions.parquet")))
    probabilities = predictions.filter(like="probability_").to_numpy()
    np.testing.assert_array_equal(probabilities[1], probabilities[2])


def test_signature_types_are_looked_up_by_name() -> None:
    frame = pd.DataFrame(
        {
            "n": [1, 2],
            "x": [0.5, 1.5],
            "f": np.array([1, 2], dtype=np.float32),
            "b": [True, False],
            "s": ["a", "b"],
        }
    )
    types = source.model_types(infer_signature(frame).inputs)
    assert types == {
        "n": pa.float64(),
        "x": pa.float64(),
        "f": pa.float64(),
        "b": pa.bool_(),
        "s": pa.string(),
    }
