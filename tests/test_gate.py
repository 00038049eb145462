"""The promotion gate cannot be fooled: by a guess, by noise, or by a class the split lacks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.metrics import f1_score

from bricksml.data import sample
from bricksml.jobs.train_models import train_models
from bricksml.jobs.validate_model import validate_model
from bricksml.models import compare
from bricksml.params import TrainParams
from bricksml.tracking import registry
from tests.helpers import CUSTOMERS, SENTIMENT, make_version


def _coin_table(rows: int, seed: int) -> pd.DataFrame:
    """A balanced binary label that no column says anything about."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "row": np.arange(rows),
            "x1": rng.normal(size=rows),
            "x2": rng.normal(size=rows),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "label": np.where(np.arange(rows) % 2 == 0, "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def store(workspace: Path) -> Iterator[Path]:
    """A local mirror with a coin-flip data set, a customer table, and text with a 2-row class."""
    root = workspace
    make_version(root, "coin", _coin_table(4000, 1), {"label_col": "label", "id_col": "row"})
    make_version(root, "cu", sample.customers(3000, 5), CUSTOMERS)
    rare = sample.sentiment(1200, 6)
    rare.loc[rare.index[:2], "Sentiment"] = "takeover"  # too few rows to reach every split
    rare.loc[rare.index[:2], "Sentence"] = ["Acme agrees to buy Foo.", "Bar is taken over by Baz."]
    make_version(root, "rare", rare, {**SENTIMENT, "id_col": ""}, rare_classes="train")
    yield root


def _params(data: str, model: str, **extra: object) -> TrainParams:
    return TrainParams.parse(
        {"data_name": data, "data_version": "v1", "model_name": f"main.bricksml.{model}", **extra}
    )


def _record(params: TrainParams, number: str) -> dict:
    return json.loads(registry.version(params.registered_model_name, number).tags["gate_record"])


def test_a_model_at_chance_level_is_rejected_by_the_baseline(store: Path) -> None:
    params = _params("coin", "coin", gate_min_f1="0.3")
    trained = train_models(params)
    gate = validate_model(params, trained.model_version)
    # It clears the minimum (which a coin clears too) but not the baseline plus the margin.
    assert gate.challenger_score >= 0.3
    assert gate.baseline["stratified"] == pytest.approx(0.5, abs=0.01)
    assert gate.challenger_score < gate.baseline["required"]
    assert gate.decision == "rejected", gate.reason
    assert "does not beat baseline" in gate.reason
    assert registry.aliases(params.registered_model_name) == {}
    record = _record(params, trained.model_version)
    assert record["baseline"]["required"] == pytest.approx(
        max(gate.baseline["stratified"], gate.baseline["most_frequent"]) + 0.05, abs=1e-6
    )

    # Without a margin the same model would pass only if it beat the baseline at all.
    lenient = _params("coin", "coin", gate_min_f1="0.3", gate_baseline_margin="0")
    again = validate_model(lenient, trained.model_version)
    assert (again.decision == "promoted") == (again.challenger_score >= again.baseline["required"])


def test_a_challenger_within_noise_keeps_the_champion(store: Path) -> None:
    first = _params("cu", "cu_noise")
    champion = train_models(first)
    assert validate_model(first, champion.model_version).decision == "promoted"

    # Another model type, a hair better on the holdout's 300 rows: the old rule promoted it.
    near = _params("cu", "cu_noise", model_type="random_forest", model_params='{"n_estimators": 25}')
    challenger = train_models(near)
    gate = validate_model(near, challenger.model_version)
    comparison = gate.comparison
    assert gate.challenger_score > gate.champion_score
    assert comparison["low"] < 0 < comparison["high"], comparison  # the interval holds no verdict
    assert comparison["verdict"] == "indistinguishable"
    assert gate.decision == "challenger"
    assert registry.aliases(first.registered_model_name) == {"champion": "1", "challenger": "2"}
    assert "not distinguishable from champion v1" in gate.reason and "champion kept" in gate.reason
    record = _record(near, challenger.model_version)
    assert record["comparison"]["confidence"] == 0.95
    assert record["comparison"]["difference"] == pytest.approx(
        gate.challenger_score - gate.champion_score, abs=1e-6
    )

    # A lower confidence narrows the interval (same resamples, same seed).
    narrow = validate_model(_params("cu", "cu_noise", gate_confidence="0.6", gate_mode="dry_run"), "2")
    assert narrow.comparison["high"] - narrow.comparison["low"] < comparison["high"] - comparison["low"]

    # Asked to, the gate promotes on the point estimate.
    ties = _params("cu", "cu_noise", gate_tie="promote")
    gate = validate_model(ties, challenger.model_version)
    assert gate.decision == "promoted" and "gate_tie=promote" in gate.reason
    assert registry.aliases(first.registered_model_name) == {"champion": "2", "challenger": "2"}


def test_a_clearly_worse_challenger_is_worse_not_a_tie(store: Path) -> None:
    champion = _params("cu", "cu_worse")
    assert validate_model(champion, train_models(champion).model_version).decision == "promoted"
    weak = _params("cu", "cu_worse", model_params='{"C": 0.001}', gate_min_f1="0.1", gate_baseline_margin="0")
    trained = train_models(weak)
    gate = validate_model(weak, trained.model_version)
    assert gate.comparison["verdict"] == "worse" and gate.comparison["high"] < 0
    assert gate.decision == "challenger" and not gate.promoted
    assert registry.aliases(weak.registered_model_name) == {"champion": "1", "challenger": "2"}
    # The record of a gate with a champion fits Unity Catalog's tag values.
    assert all(len(value) <= registry.UC_TAG_VALUE_MAX for value in gate.tags().values())


def test_the_gate_scores_only_classes_with_rows_in_its_split(store: Path) -> None:
    params = _params("rare", "rare")
    trained = train_models(params)
    gate = validate_model(params, trained.model_version)
    assert gate.absent_classes == ["takeover"]
    holdout = pd.read_parquet(store / "Volumes/main/bricksml/data/rare/v1/holdout.parquet")
    assert "takeover" not in set(holdout["Sentiment"])
    record = _record(params, trained.model_version)
    assert record["classes_absent"] == {"count": 1, "names": ["takeover"]}
    assert "no rows: takeover" in gate.reason
    # The training run's holdout macro-F1 is over the same classes: 3, not 4.
    assert trained.metrics["holdout_classes_scored"] == 3
    assert trained.metrics["train_classes_scored"] == 4
    assert "holdout_f1_class_takeover" not in trained.metrics
    assert gate.challenger_score == pytest.approx(trained.metrics["holdout_f1_macro"])


def test_baselines_and_bootstrap_agree_with_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    labels = ["a", "b", "c"]
    y = rng.choice(labels, 600, p=[0.6, 0.3, 0.1])
    a = np.where(rng.random(600) < 0.8, y, rng.choice(labels, 600))
    b = np.where(rng.random(600) < 0.7, y, rng.choice(labels, 600))
    for metric, average in (("f1_macro", "macro"), ("f1_weighted", "weighted")):
        assert compare.score(metric, y, a, labels) == pytest.approx(f1_score(y, a, average=average))
    most = compare.baselines("f1_macro", y, y, labels)["most_frequent"]
    assert most == pytest.approx(f1_score(y, np.full(600, "a"), average="macro", labels=labels))

    result = compare.paired_bootstrap("f1_macro", y, a, b, labels, confidence=0.9, resamples=400, seed=1)
    assert result.difference == pytest.approx(
        f1_score(y, a, average="macro") - f1_score(y, b, average="macro")
    )
    by_hand = []
    for _ in range(400):  # the textbook bootstrap: resample rows, score both
        rows = rng.integers(0, 600, 600)
        by_hand.append(
            f1_score(y[rows], a[rows], average="macro") - f1_score(y[rows], b[rows], average="macro")
        )
    low, high = np.quantile(by_hand, [0.05, 0.95])
    assert result.low == pytest.approx(low, abs=0.015) and result.high == pytest.approx(high, abs=0.015)
    assert result.low < result.difference < result.high


def test_a_champion_that_moves_during_the_gate_is_judged_again(store: Path, monkeypatch) -> None:
    """Two trains of one model at once: the worse one compared against a stale champion."""
    strong = _params("cu", "cu_race")
    weak = _params("cu", "cu_race", model_params='{"C": 0.001}', gate_min_f1="0.1", gate_baseline_margin="0")
    weak_version = train_models(weak).model_version
    strong_version = train_models(strong).model_version
    real_lock = registry.model_lock
    calls: list[str] = []

    def lock_after_the_other_gate(name: str):
        if not calls:  # the weak gate has judged "no champion yet"; the strong one finishes first
            calls.append("strong")
            assert validate_model(strong, strong_version).decision == "promoted"
        calls.append("lock")
        return real_lock(name)

    monkeypatch.setattr(registry, "model_lock", lock_after_the_other_gate)
    gate = validate_model(weak, weak_version)
    # The strong gate's one move, then the weak gate's two: against no champion, then against v2.
    assert calls == ["strong", "lock", "lock", "lock"]
    assert gate.champion_version == strong_version and gate.comparison["verdict"] == "worse"
    assert not gate.promoted
    assert registry.aliases(strong.registered_model_name)["champion"] == strong_version


def _cu(model_name: str) -> str:
    return repr({"data_name": "cu", "data_version": "v1", "model_name": model_name})


def _killed(store: Path, code: str) -> int:
    """Run ``code`` in a fresh interpreter on the test's mirror; it ends itself with SIGKILL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["BRICKSML_LOCAL_ROOT"] = str(store)
    prologue = (
        "import os, signal\n"
        "from bricksml.params import TrainParams\n"
        "def die(*args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", prologue + code], env=env, capture_output=True, check=False
    ).returncode


def test_a_train_killed_after_registering_leaves_a_version_that_is_never_promoted(store: Path) -> None:
    name = "main.bricksml.cu_killed"
    code = (
        "import mlflow\n"
        "from bricksml.jobs.train_models import train_models\n"
        "mlflow.log_metrics = die  # the version row exists; metrics, record and run end never come\n"
        f"train_models(TrainParams.parse({_cu(name)}))\n"
    )
    assert _killed(store, code) == -signal.SIGKILL
    version = registry.version(name, "1")
    assert MlflowClient().get_run(version.run_id).info.status == "RUNNING"

    params = _params("cu", "cu_killed")
    gate = validate_model(params, "1")
    assert gate.decision == "rejected" and "did not finish (status RUNNING)" in gate.reason
    assert registry.aliases(name) == {}

    # The next training run closes the orphan as FAILED and says why.
    train_models(params)
    orphan = MlflowClient().get_run(version.run_id)
    assert orphan.info.status == "FAILED"
    assert "ended without ending the run" in orphan.data.tags["bricksml.closed_because"]


def test_a_gate_killed_while_moving_aliases_is_settled_by_the_next(store: Path) -> None:
    name = "main.bricksml.cu_gate_killed"
    params = _params("cu", "cu_gate_killed")
    train_models(params)
    code = (
        "from bricksml.jobs.validate_model import validate_model\n"
        "from bricksml.tracking import registry\n"
        "moved = registry.set_alias\n"
        "def move_one_then_die(name, alias, number):\n"
        "    moved(name, alias, number)\n"
        "    die()\n"
        "registry.set_alias = move_one_then_die\n"
        f"validate_model(TrainParams.parse({_cu(name)}), '1')\n"
    )
    assert _killed(store, code) == -signal.SIGKILL
    assert registry.aliases(name) == {"challenger": "1"}  # champion never moved
    tags = registry.version(name, "1").tags
    assert tags["gate_decision"] == "pending"
    assert json.loads(tags["gate_record"])["decision"] == "promoted"  # the record was written first

    lines: list[str] = []

    class Collect:
        def step(self, line: str) -> None:
            lines.append(line)

    train_models(params)
    gate = validate_model(params, "2", progress=Collect())
    assert any("v1: a gate was killed" in line and "'interrupted'" in line for line in lines)
    assert registry.version(name, "1").tags["gate_decision"] == "interrupted"
    assert gate.decision == "promoted" and registry.aliases(name) == {"challenger": "2", "champion": "2"}
