"""Benchmark train_models on the real financial sentiment data: quality, fit time, MLflow's share.

Per model type (default parameters): macro-F1 on test and holdout of a duplicate-aware split, fit
seconds, and the seconds spent inside MLflow (store, run, logging, model logging + registration) as a
share of the whole train task. Logistic regression is repeated: the first run in a process pays for
creating the SQLite store and importing MLflow's store modules (cold); the next ones are warm.
Usage:

    python benchmarks/train.py [--data ../shared/data/financial_sentiment/data.csv] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "financial_sentiment" / "data.csv"
MODEL_TYPES = ("logistic_regression", "naive_bayes", "linear_svm", "random_forest", "gradient_boosting")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"{args.data} is not here: nothing to benchmark (it lives outside the repository)")
        return 0
    root = WORK / "train"
    shutil.rmtree(root, ignore_errors=True)
    os.environ["BRICKSML_LOCAL_ROOT"] = str(root)
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    from bricksml.jobs.create_data import create_data
    from bricksml.jobs.train_models import train_models
    from bricksml.jobs.validate_model import validate_model
    from bricksml.params import CreateDataParams, TrainParams

    created = create_data(
        CreateDataParams.parse(
            {
                "data_name": "financial_sentiment",
                "data_version": "v1",
                "label_col": "Sentiment",
                "text_col": "Sentence",
                "raw_path": str(args.data.resolve()),
            }
        )
    )
    print(f"data: {created.splits} (quality: {created.quality['exact_duplicates']} exact duplicates dropped)")

    def run(model_type: str) -> dict:
        params = TrainParams.parse(
            {"data_name": "financial_sentiment", "data_version": "v1", "model_type": model_type}
        )
        result = train_models(params)
        started = time.perf_counter()
        gate = validate_model(params, result.model_version)
        seconds = result.seconds
        return {
            "model_type": model_type,
            "test_f1_macro": round(result.metrics["test_f1_macro"], 4),
            "holdout_f1_macro": round(result.metrics["holdout_f1_macro"], 4),
            "fit_seconds": round(seconds["fit"], 3),
            "train_seconds": round(seconds["total"], 3),
            "mlflow_seconds": round(seconds["mlflow"], 3),
            "mlflow_share": round(seconds["mlflow"] / seconds["total"], 4),
            "validate_seconds": round(time.perf_counter() - started, 3),
            "gate": gate.decision,
        }

    logistic = [run("logistic_regression") for _ in range(max(args.repeats, 2))]
    cold, warm = logistic[0], logistic[1:]
    rows = [warm[-1]] + [run(t) for t in MODEL_TYPES[1:]]
    warm_share = statistics.median(r["mlflow_share"] for r in warm)
    job_share = statistics.median(
        (r["mlflow_seconds"] + r["validate_seconds"]) / (r["train_seconds"] + r["validate_seconds"])
        for r in warm
    )
    results = {
        "data": str(args.data),
        "splits": created.splits,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "model_types": rows,
        "logistic_regression_cold": cold,
        "logistic_regression_warm_mlflow_share_median": warm_share,
        "logistic_regression_job_mlflow_share_median": job_share,
    }
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "train.json").write_text(json.dumps(results, indent=2))

    header = ("model type", "test F1", "holdout F1", "fit s", "train s", "MLflow s", "share")
    print("{:20s} {:>8s} {:>10s} {:>7s} {:>8s} {:>9s} {:>6s}".format(*header))
    for r in rows:
        print(
            f"{r['model_type']:20s} {r['test_f1_macro']:8.4f} {r['holdout_f1_macro']:10.4f}"
            f" {r['fit_seconds']:7.2f} {r['train_seconds']:8.2f} {r['mlflow_seconds']:9.2f}"
            f" {r['mlflow_share']:6.1%}"
        )
    print(f"logistic regression, cold (first run in the process): MLflow share {cold['mlflow_share']:.1%}")
    print(f"logistic regression, warm: MLflow share of the train task {warm_share:.1%} (median)")
    print(f"logistic regression, warm: MLflow share of train + validate {job_share:.1%} (median)")
    f1 = rows[0]["test_f1_macro"]
    print(
        f"target macro-F1 >= 0.65 (logistic regression, test): {f1:.4f} {'met' if f1 >= 0.65 else 'NOT met'}"
    )
    verdict = "met" if warm_share < 0.15 else "NOT met"
    print(f"target MLflow share < 15% (warm train task): {warm_share:.1%} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
