"""Suspected leaks: columns that give the label away, and row ids used as features."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from bricksml.data import leaks


def campaigns(rows: int, seed: int = 0) -> pd.DataFrame:
    """A campaign table: success is decided by the raised amount, which is only known afterwards."""
    rng = np.random.default_rng(seed)
    goal = rng.lognormal(9, 1, rows).round(0)
    success = rng.random(rows) < 0.45
    raised = np.where(success, goal * rng.uniform(1.0, 1.8, rows), goal * rng.uniform(0.0, 0.95, rows))
    return pd.DataFrame(
        {
            "goal": goal,
            "raised": raised.round(2),
            "duration_days": rng.integers(10, 90, rows),
            "backers": rng.poisson(40, rows),
            "category": rng.choice(["art", "film", "games", "music"], rows),
            "video": rng.choice([True, False], rows),
            "success": np.where(success, "yes", "no"),
        }
    )


FEATURES = ["goal", "raised", "duration_days", "backers", "category", "video"]


def _by_column(found: list[leaks.Leak]) -> dict[str, str]:
    return {leak.column: leak.kind for leak in found}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_honest_features_are_not_suspected(seed: int) -> None:
    frame = campaigns(3000, seed).drop(columns="raised")
    assert leaks.find_leaks(frame, "success", [c for c in FEATURES if c != "raised"], seed=seed) == []


def test_a_column_that_alone_gives_the_label_away_is_predictive() -> None:
    frame = campaigns(3000)
    frame["refunded"] = np.where(frame["success"] == "no", "refund", "paid")  # decided after the fact
    frame["score"] = np.where(frame["success"] == "yes", 1.0, -1.0) * np.random.default_rng(3).uniform(
        1, 2, 3000
    )
    found = leaks.find_leaks(frame, "success", [*FEATURES, "refunded", "score"])
    assert _by_column(found)["refunded"] == "predictive"
    assert _by_column(found)["score"] == "predictive", "a threshold on a number, as a tree finds it"
    leak = next(leak for leak in found if leak.column == "score")
    assert leak.score is not None and leak.score >= leaks.THRESHOLD and "majority baseline" in leak.detail


def test_a_column_that_predicts_with_another_one_is_named() -> None:
    found = leaks.find_leaks(campaigns(3000), "success", FEATURES)
    assert [leak.to_dict()["column"] for leak in found] == ["raised"]
    entry = found[0].to_dict()
    assert entry["kind"] == "predictive" and entry["with"] == "goal" and "ratio" in entry["detail"]


def test_a_noisy_copy_of_the_label_is_not_predictive_enough() -> None:
    frame = campaigns(3000)
    noisy = frame["success"].copy()
    flip = np.random.default_rng(4).random(len(frame)) < 0.15
    noisy[flip] = np.where(noisy[flip] == "yes", "no", "yes")
    frame["hint"] = noisy
    assert "hint" not in _by_column(leaks.find_leaks(frame, "success", [*FEATURES, "hint"]))


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("row_number", lambda n: np.arange(n) + 1),  # in row order
        ("CampaignID", lambda n: np.random.default_rng(5).permutation(n) * 7),  # named like an id
        (
            "ref",
            lambda n: [str(uuid.UUID(int=int(i))) for i in np.random.default_rng(6).integers(0, 2**62, n)],
        ),
        ("Unnamed: 0", lambda n: np.arange(n)),  # the index pandas wrote into the CSV
    ],
)
def test_row_ids_used_as_features_are_id_like(name: str, values) -> None:
    frame = campaigns(500).drop(columns="raised")
    frame[name] = values(len(frame))
    found = _by_column(leaks.find_leaks(frame, "success", [*frame.columns.drop("success")]))
    assert found == {name: "id_like"}


def test_unique_values_that_are_not_ids_are_not_suspected() -> None:
    frame = campaigns(500).drop(columns="raised")
    rng = np.random.default_rng(7)
    frame["income"] = rng.normal(50_000, 9_000, len(frame))  # unique floats: a measurement
    frame["title"] = [
        f"{w} {i}"
        for i, w in zip(rng.permutation(len(frame)), rng.choice(["a", "b"], len(frame)), strict=True)
    ]
    assert leaks.find_leaks(frame, "success", [*frame.columns.drop("success")]) == []


def test_the_same_input_gives_the_same_answer_and_sampling_is_bounded() -> None:
    frame = campaigns(60_000)
    first = leaks.find_leaks(frame, "success", FEATURES, seed=3)
    again = leaks.find_leaks(frame.copy(), "success", FEATURES, seed=3)
    assert first == again and [leak.column for leak in first] == ["raised"]
    rows = np.flatnonzero(frame["success"] == "yes")  # only one class among these rows
    assert leaks.find_leaks(frame, "success", FEATURES, rows=rows) == []


def test_too_few_rows_give_no_predictive_verdict() -> None:
    frame = campaigns(leaks.MIN_ROWS - 1)
    assert leaks.find_leaks(frame, "success", FEATURES) == []


def test_macro_f1_is_scikit_learns() -> None:
    rng = np.random.default_rng(8)
    for _ in range(20):
        true, pred = rng.integers(0, 4, 200), rng.integers(0, 5, 200)
        assert leaks.macro_f1(true, pred, 5) == pytest.approx(f1_score(true, pred, average="macro"))


def test_lines_name_the_column_and_how_to_drop_it() -> None:
    found = [leak.to_dict() for leak in leaks.find_leaks(campaigns(2000), "success", FEATURES)]
    line = leaks.describe(found[0])
    assert "'raised'" in line and 'feature_params {"drop_columns": ["raised"]}' in line
    ident = {"column": "row_id", "kind": "id_like", "score": None, "detail": "100.0% distinct values"}
    assert "set id_col=row_id" in leaks.describe(ident)
    failure = leaks.failure([*found, ident])
    assert "\n" not in failure and "'raised' (predictive)" in failure and "leaks=warn" in failure
    assert '"drop_columns": ["raised", "row_id"]' in failure
