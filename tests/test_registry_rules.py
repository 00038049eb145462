"""Unity Catalog's rules on model version tags hold locally, and the gate's record keeps to them."""

from __future__ import annotations

import json

import pytest

from bricksml.errors import BricksmlError
from bricksml.jobs.validate_model import GateResult
from bricksml.tracking import registry


@pytest.mark.parametrize("key", ["gate.decision", "data-name", "a/b", "k:v", "a=b", "a,b", "", "k" * 256])
def test_a_key_unity_catalog_refuses_is_refused_here(key: str) -> None:
    with pytest.raises(BricksmlError, match=r"Unity Catalog takes keys of 1 to 255 characters"):
        registry.check_tags({key: "value"})


def test_a_value_over_the_limit_is_refused_with_its_length() -> None:
    with pytest.raises(BricksmlError, match=r"'data_path': its value has 1001 characters"):
        registry.check_tags({"data_path": "x" * 1001})
    registry.check_tags({"data_path": "x" * 1000, "k" * 255: ""})


def _gate(classes: int) -> GateResult:
    metrics = {"f1_macro": 0.61234567, "accuracy": 0.7, "roc_auc_ovr": 0.8, "log_loss": 0.9}
    metrics |= {f"f1_class_label_{i}": 0.5 for i in range(classes)}
    return GateResult(
        model_name="main.bricksml.m",
        model_version="7",
        mode="enabled",
        decision="challenger",
        promoted=False,
        reason="macro-F1 0.6123 >= minimum 0.5; worse than champion v3 (0.7000, allowed drop 0)",
        split="holdout",
        metric="f1_macro",
        challenger_score=0.61234567,
        champion_version="3",
        champion_score=0.7,
        min_f1=0.5,
        max_drop=0.0,
        aliases={"champion": "3", "challenger": "7"},
        metrics=metrics,
    )


@pytest.mark.parametrize("classes", [3, 200])
def test_the_gate_record_fits_unity_catalog_whatever_the_number_of_classes(classes: int) -> None:
    tags = _gate(classes).tags()
    registry.check_tags(tags)
    assert set(tags) == {"gate_decision", "gate_reason", "gate_record"}
    record = json.loads(tags["gate_record"])
    assert record["challenger"] == 0.612346 and record["champion_version"] == "3"
    assert record["metrics"] == {"accuracy": 0.7, "f1_macro": 0.612346, "log_loss": 0.9, "roc_auc_ovr": 0.8}
