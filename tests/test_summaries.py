"""The last lines of a run: each task's result as a person reads it, robust to keys that come and go."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bricksml.cli import summaries
from bricksml.cli.commands import run as run_command
from bricksml.cli.main import main
from bricksml.errors import ModelRejectedError

ROOT = Path(__file__).resolve().parents[1]
RUN = ("run", "train_models", "--bundle-root", str(ROOT))

TRAIN = {
    "run_id": "r1",
    "experiment_id": "3",
    "model_name": "main.bricksml.fs",
    "model_version": "2",
    "model_uri": "models:/main.bricksml.fs/2",
    "model_type": "logistic_regression",
    "data": "fs/v1",
    "metrics": {
        "train_f1_macro": 0.98765,
        "train_accuracy": 0.99,
        "test_f1_macro": 0.81234,
        "test_accuracy": 0.83,
        "test_f1_class_negative": 0.5,
        "holdout_f1_macro": 0.80111,
        "holdout_accuracy": 0.82,
        "fit_seconds": 1.5,
        "predict_seconds": 0.2,
        "job_seconds": 4.0,
    },
    "seconds": {"fit": 1.5},
    "best_trial": None,
}
GATE = {
    "model_name": "main.bricksml.fs",
    "model_version": "2",
    "mode": "enabled",
    "decision": "rejected",
    "promoted": False,
    "reason": "macro-F1 0.4000 < minimum 0.6; worse than champion v1 (0.8100)",
    "split": "holdout",
    "metric": "f1_macro",
    "challenger_score": 0.4,
    "champion_version": "1",
    "champion_score": 0.81,
    "aliases": {"champion": "1", "challenger": "1"},
    # Keys another part of the gate adds; the summary must neither need nor choke on them.
    "baseline": {"most_frequent": 0.2, "margin": 0.05},
    "comparison": {"difference": -0.4, "low": -0.5, "high": -0.3, "verdict": "worse"},
    "brand_new_key": [{"x": 1}],
}
CREATE = {
    "path": "/v/fs/v1",
    "data_name": "fs",
    "data_version": "v1",
    "status": "created",
    "splits": {"holdout": 100, "test": 200, "train": 700},  # key-sorted, as exit_notebook writes it
    "labels": {"train": {"a": 1}},
    "quality": {
        "rows_in": 1000,
        "rows_out": 990,
        "missing_label": 0,
        "empty_text": 3,
        "exact_duplicates": 7,
        "duplicates_dropped": 7,
        "conflicting_groups": 0,
        "class_counts": {"a": 500, "b": 490},
        "conflict_examples": ["a long text that appears with two labels"],
        "notes": ["kept 2 rows of class vip in train"],
        "suspected_leaks": [{"column": "ticket_id", "kind": "id_predicts_label", "score": 0.99}],
        "rare_classes": {},
        "duplicate_ids": 0,
        # Counts and settings, not findings: in the heading, or nothing to report.
        "records_in_file": 1000,
        "rows": {"records_in_file": 1000, "read": 1000, "dropped": {"missing_label": 0}, "kept": 990},
        "bad_records": {"found": 0, "dropped": 0, "action": "fail", "examples": []},
    },
}
INFER = {
    "output_path": "/out/m/v2/20240101T000000Z",
    "rows": 200,
    "model_uri": "models:/main.bricksml.fs/2",
    "input": "fs/v1/holdout",
    "null_text": 0,
    "prediction_counts": {"negative": 50, "positive": 150},
    "metrics": {"f1_macro": 0.8, "accuracy": 0.85},
}


def _table(lines: list[str]) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in lines}


def test_train_summary_shows_each_split_with_macro_f1_and_accuracy() -> None:
    lines = summaries.train_lines(TRAIN, "f1_macro")
    assert "main.bricksml.fs v2" in lines[0] and "fs/v1" in lines[0] and "r1" in lines[0]
    table = _table(lines[1:])
    assert table["split"] == ["macro-F1", "accuracy"]
    assert table["train"] == ["0.9877", "0.9900"]
    assert table["test"] == ["0.8123", "0.8300"]
    assert table["holdout"] == ["0.8011", "0.8200"]
    assert [line.split()[0] for line in lines[2:]] == ["train", "test", "holdout"]
    assert not any(word in " ".join(lines) for word in ("fit", "job", "seconds")), lines


def test_train_summary_without_holdout_and_with_regression_metrics() -> None:
    metrics = {"train_rmse": 1.0, "test_rmse": 1.5, "test_r2": 0.7, "train_r2": 0.9, "fit_seconds": 1.0}
    table = _table(summaries.train_lines({**TRAIN, "metrics": metrics}, "rmse")[1:])
    assert table == {
        "split": ["RMSE", "R2"],
        "train": ["1.0000", "0.9000"],
        "test": ["1.5000", "0.7000"],
    }


def test_the_gate_metric_leads_and_unknown_metrics_still_show() -> None:
    metrics = {"test_f1_macro": 0.5, "test_log_loss": 0.9, "train_log_loss": 0.4, "train_f1_macro": 0.6}
    assert _table(summaries.score_table(metrics, "log_loss"))["split"] == ["log_loss", "macro-F1"]
    unknown = _table(summaries.score_table({"test_mape": 0.1, "test_smape": 0.2}))
    assert unknown == {"split": ["mape", "smape"], "test": ["0.1000", "0.2000"]}
    assert summaries.score_table({}) == []


def test_a_rejection_is_plain_and_names_the_champion_that_stays() -> None:
    lines = summaries.gate_lines(GATE)
    assert lines[0] == f"gate: REJECTED - {GATE['reason']}; champion stays v1"
    assert lines[1] == "  aliases: @challenger -> v1, @champion -> v1"


@pytest.mark.parametrize(
    ("decision", "mode", "expected"),
    [
        ("promoted", "enabled", "gate: PROMOTED - {reason}; v2 is now @champion"),
        ("challenger", "enabled", "gate: CHALLENGER - {reason}; v2 is @challenger, champion stays v1"),
        (
            "would_reject",
            "dry_run",
            "gate (dry_run): WOULD REJECT - {reason}; nothing moved (dry run), champion stays v1",
        ),
        ("skipped", "disabled", "gate (disabled): SKIPPED - {reason}"),
    ],
)
def test_every_decision_reads_as_what_happened(decision: str, mode: str, expected: str) -> None:
    line = summaries.gate_lines({**GATE, "decision": decision, "mode": mode})[0]
    assert line == expected.format(reason=GATE["reason"])


@pytest.mark.parametrize(
    ("decision", "rejected"),
    [
        ("rejected", True),
        ("would_reject", True),
        ("challenger", False),  # qualified; the champion stays: a decision, not a rejection
        ("promoted", False),
        ("would_promote", False),
        ("skipped", False),
    ],
)
def test_which_decisions_are_rejections(decision: str, rejected: bool) -> None:
    assert summaries.is_rejection({**GATE, "decision": decision}) is rejected


def test_a_gate_record_with_missing_keys_still_renders() -> None:
    assert summaries.gate_lines({"decision": "rejected"}) == ["gate: REJECTED"]
    assert summaries.gate_lines({"decision": "new_kind", "aliases": None}) == ["gate: NEW KIND"]
    assert summaries.is_rejection({"decision": "rejected"})
    assert not summaries.is_rejection(None) and not summaries.is_rejection("rejected")


def test_create_data_summary_shows_nonzero_findings_only() -> None:
    lines = summaries.create_data_lines(CREATE)
    text = "\n".join(lines)
    assert lines[0] == "data version fs/v1 created: /v/fs/v1"
    assert lines[1] == "  rows: train 700, test 200, holdout 100"
    assert lines[2] == "  quality: 1000 rows read, 990 kept"
    assert "    empty text: 3" in lines
    assert "    exact duplicates: 7 (dropped)" in lines
    assert "    suspected leaks: ticket_id (id_predicts_label)" in lines
    assert "    note: kept 2 rows of class vip in train" in lines
    for absent in (
        "missing label",
        "conflicting groups",
        "rare classes",
        "duplicate ids",
        "duplicates dropped",
        "bad records",
    ):
        assert absent not in text, absent
    assert "appears with two labels" not in text  # examples are for the notebook, not a summary line
    assert "records" not in text and "kept 990" not in text


def test_bad_records_and_records_that_became_no_row() -> None:
    bad = {"found": 2, "dropped": 2, "action": "drop", "examples": [{"file": "a.csv", "line": 7}]}
    lines = summaries.quality_lines({"records_in_file": 12, "rows_in": 10, "rows_out": 9, "bad_records": bad})
    assert lines == [
        "  quality: 12 records in the files, 10 rows read, 9 kept",
        "    bad records: found 2, dropped 2, examples file=a.csv line=7, action drop",
    ]


def test_create_data_findings_of_any_shape() -> None:
    quality = {
        "rows_in": 10,
        "rare_classes": {"vip": 2, "gold": 1},
        "suspected_leaks": [{"column": f"c{i}", "kind": "copy"} for i in range(7)],
        "some_flag": True,
        "a_ratio": 0.25,
        "nothing": None,
    }
    lines = summaries.quality_lines(quality)
    assert "    rare classes: vip 2, gold 1" in lines
    assert "    suspected leaks: c0 (copy), c1 (copy), c2 (copy), c3 (copy), c4 (copy) (+2 more)" in lines
    assert "    some flag: yes" in lines and "    a ratio: 0.25" in lines
    assert not any("nothing" in line for line in lines)
    assert summaries.quality_lines({}) == []


def test_inference_summary() -> None:
    lines = summaries.inference_lines(INFER)
    assert lines == [
        "scored 200 rows of fs/v1/holdout with models:/main.bricksml.fs/2",
        "  predictions: /out/m/v2/20240101T000000Z",
        "  predicted: negative 50 (25.0%), positive 150 (75.0%)",
        "  labels present: macro-F1 0.8000, accuracy 0.8500",
    ]


def test_regression_summaries_say_the_task_the_numbers_and_what_was_left_out() -> None:
    trained = {
        **TRAIN,
        "task": "regression",
        "model_type": "ridge",
        "metrics": {"test_rmse": 0.91, "test_r2": 0.48, "holdout_rmse": 1.0, "holdout_r2": 0.4},
        "notes": ["MAPE is not computed on test: 3 of its labels are 0 (no relative error there)"],
    }
    lines = summaries.train_lines(trained, "rmse")
    assert lines[0].startswith("trained ridge (regression) on fs/v1")
    assert _table(lines[1:4])["test"] == ["0.9100", "0.4800"]
    assert (
        lines[-1] == "  note: MAPE is not computed on test: 3 of its labels are 0 (no relative error there)"
    )
    scored = {
        **INFER,
        "prediction_counts": {},
        "prediction_stats": {"mean": 4.1234, "p05": 1.9, "p50": 4.3, "p95": 5.02},
        "metrics": {"rmse": 0.95, "mae": 0.7, "r2": 0.41},
    }
    lines = summaries.inference_lines(scored)
    assert lines[2:] == [
        "  predicted: mean 4.123 (5%-95%: 1.9 to 5.02)",
        "  labels present: RMSE 0.9500, MAE 0.7000, R2 0.4100",
    ]
    created = {
        **CREATE,
        "task": "regression",
        "features": "text+tabular",
        "quality": {
            **CREATE["quality"],
            "class_counts": {},
            "label_stats": {"count": 990, "min": 1.0, "max": 5.0, "mean": 4.09},
        },
    }
    lines = summaries.create_data_lines(created)
    assert lines[1] == "  task: regression (text+tabular)"
    assert lines[-1] == "    label: 990 values from 1 to 5, mean 4.09"
    assert not any("label stats" in line for line in lines)


def test_pipeline_summary_groups_tasks_by_child_job() -> None:
    tasks = [
        {"task_key": "create_data", "job": "create_data", "result": CREATE},
        {"task_key": "train", "job": "train_models", "result": TRAIN},
        {"task_key": "validate", "job": "train_models", "result": GATE},
        {"task_key": "inference", "job": "inference", "result": INFER},
        {"task_key": "other", "job": "other", "result": None},  # a notebook that ended without a result
    ]
    lines = summaries.tasks_lines(tasks)
    heads = [line for line in lines if not line.startswith(" ")]
    assert heads == ["create_data:", "train_models:", "inference:"]
    assert lines.index("train_models:") < lines.index(
        f"  gate: REJECTED - {GATE['reason']}; champion stays v1"
    )
    [holdout] = [line for line in lines if line.startswith("    holdout ")]  # indented under its job
    assert holdout.split() == ["holdout", "0.8011", "0.8200"]
    # One job: no headings, the lines as they are.
    single = summaries.tasks_lines(tasks[1:3])
    assert single[0].startswith("trained logistic_regression") and single[-2].startswith("gate: REJECTED")


def test_raise_if_rejected_prints_the_summary_then_fails(capsys) -> None:
    summaries.raise_if_rejected([None, {**GATE, "decision": "challenger"}], {}, "summary")
    assert capsys.readouterr().out == ""
    with pytest.raises(ModelRejectedError) as caught:
        summaries.raise_if_rejected([TRAIN, GATE], {"k": 1}, "the summary")
    assert capsys.readouterr().out == "the summary\n"
    assert caught.value.exit_code == 9
    assert caught.value.data == {"k": 1}
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("main.bricksml.fs v2 rejected by the promotion gate (--fail-on-reject)")
    assert message.endswith("champion stays v1")


# -- `bricksml run`: the flag and the render, on a job run that returns these results --------------


@pytest.fixture
def job_run(monkeypatch: pytest.MonkeyPatch, tmp_path) -> dict:
    """`bricksml run train_models` with the kernel replaced by a run that returns TRAIN and a gate."""
    from bricksml.bundle.runner import JobRun, TaskResult

    monkeypatch.setenv("BRICKSML_LOCAL_ROOT", str(tmp_path))
    returned = {"gate": GATE}

    def fake_run_job(bundle, job_key, overrides, **_: object) -> JobRun:
        run = JobRun(job_key, bundle.target, "r-1", {}, str(tmp_path))
        run.tasks = [
            TaskResult("train", "t.ipynb", str(tmp_path / "train.ipynb"), 1.0, job_key, TRAIN),
            TaskResult(
                "validate", "v.ipynb", str(tmp_path / "validate.ipynb"), 1.0, job_key, returned["gate"]
            ),
        ]
        return run

    monkeypatch.setattr(run_command, "run_job", fake_run_job)
    return returned


def test_run_reports_a_rejection_and_exits_zero_without_the_flag(job_run: dict, capsys) -> None:
    assert main([*RUN]) == 0
    out = capsys.readouterr().out
    assert "gate: REJECTED" in out and "champion stays v1" in out
    assert "holdout" in out and "0.8011" in out


def test_run_fail_on_reject_exits_9_with_one_line(job_run: dict, capsys) -> None:
    assert main([*RUN, "--fail-on-reject"]) == 9
    out, err = capsys.readouterr()
    assert "gate: REJECTED" in out and "0.8011" in out  # the scores behind it are still shown
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: main.bricksml.fs v2 rejected"), err


def test_run_fail_on_reject_json_envelope_says_so(job_run: dict, capsys) -> None:
    assert main([*RUN, "--fail-on-reject", "--output", "json"]) == 9
    out, err = capsys.readouterr()
    envelope = json.loads(out)
    assert envelope["status"] == "error" and envelope["exit_code"] == 9
    assert "rejected by the promotion gate" in envelope["errors"][0]
    assert len(err.strip().splitlines()) == 1


def test_run_fail_on_reject_lets_a_challenger_pass(job_run: dict, capsys) -> None:
    job_run["gate"] = {**GATE, "decision": "challenger"}
    assert main([*RUN, "--fail-on-reject", "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)["data"]
    assert [t["result"]["decision"] for t in data["tasks"] if "decision" in (t["result"] or {})] == [
        "challenger"
    ]


def test_fail_on_reject_is_a_flag_of_run_and_train() -> None:
    from bricksml.cli.main import build_parser

    parser = build_parser()
    for argv in (["run", "train_models"], ["train", "--data-name", "x", "--data-version", "v1"]):
        assert parser.parse_args([*argv, "--fail-on-reject"]).fail_on_reject is True
        assert parser.parse_args(argv).fail_on_reject is False
