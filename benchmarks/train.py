"""Benchmark train_models on the real financial sentiment data: quality, fit time, MLflow's share.

Per model type (default parameters): macro-F1 on test and holdout of a duplicate-aware split, fit
seconds, and the seconds spent inside MLflow (store, run, logging, model logging + registration) as a
share of the whole train task. Logistic regression is also measured as the whole job (train, then
validate: loading the new and the champion versions, aliases, the gate's tags), three ways: warm (in a
process that has used MLflow before), cold (the first run, which also creates the SQLite store), and
fresh (each task in a new Python process on an existing store, as each task of a bundle run is);
fresh again with tracking over HTTP to a real `mlflow server`, as on Databricks, where the job's
process talks to MLflow's REST API instead of loading the SQL store itself.

``--suite tabular`` measures every classification model type on the real campaign table (100k rows;
``RaisedAmount``, which gives success away, dropped) and the customer segment table (a 6-row
class kept in train): test and holdout macro-F1 and the train task's seconds, beside the same
estimator in a plain scikit-learn pipeline (impute, scale, one-hot) fitted and scored by hand on
the same splits; their ratio is what MLflow and the framework add. ``--suite regression`` does the
same for the regression types on real numbers (the campaign's raised amount, the customers' total
spent), with R2 and RMSE against the mean of the train labels. ``--suite all`` runs the three.

Usage:

    python benchmarks/train.py [--data ../shared/data/financial_sentiment/data.csv] [--repeats 3]
    python benchmarks/train.py --suite tabular|regression|all
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "financial_sentiment" / "data.csv"
MODEL_TYPES = ("logistic_regression", "naive_bayes", "linear_svm", "random_forest", "gradient_boosting")

# One task in a new process, as a bundle task runs in its own notebook kernel: the imports (IPython
# among them, loaded with every kernel) happen before the clock starts, as they do before a task's
# first cell runs; what MLflow loads lazily on first use (its SQL store, the flavour) is inside.
FRESH_TASK = """
import json, sys
import IPython
from bricksml.jobs.train_models import train_models
from bricksml.jobs.validate_model import validate_model
from bricksml.params import TrainParams
params = TrainParams.parse({"data_name": "financial_sentiment", "data_version": "v1",
                            "model_type": "logistic_regression"})
if sys.argv[1] == "train":
    result = train_models(params)
    print(json.dumps({"seconds": result.seconds, "version": result.model_version}))
else:
    print(json.dumps({"seconds": validate_model(params, sys.argv[2]).seconds}))
"""


@contextmanager
def mlflow_server(root: Path) -> Iterator[str]:
    """A real ``mlflow server`` on a new SQLite store, serving artifacts; its URI while it runs."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{root}/server.db"]
    cmd += ["--artifacts-destination", str(root / "artifacts"), "--serve-artifacts", "--workers", "1"]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with (root / "server.log").open("wb") as log:
        server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not _healthy(uri):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start; see {root / 'server.log'}")
            time.sleep(0.25)
        yield uri
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _healthy(uri: str) -> bool:
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--suite", choices=("sentiment", "tabular", "regression", "all"), default="sentiment")
    args = parser.parse_args()
    if args.suite in ("tabular", "regression", "all"):
        for suite in ("tabular", "regression") if args.suite == "all" else (args.suite,):
            tables(suite)
        if args.suite != "all":
            return 0
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

    def measured(model_type: str, train: dict, validate: dict, f1: dict | None = None) -> dict:
        job_mlflow = train["mlflow"] + validate["mlflow"]
        job_total = train["total"] + validate["total"]
        return {
            "model_type": model_type,
            **(f1 or {}),
            "fit_seconds": round(train["fit"], 3),
            "train_seconds": round(train["total"], 3),
            "mlflow_seconds": round(train["mlflow"], 3),
            "mlflow_share": round(train["mlflow"] / train["total"], 4),
            "validate_seconds": round(validate["total"], 3),
            "validate_mlflow_seconds": round(validate["mlflow"], 3),
            "job_mlflow_share": round(job_mlflow / job_total, 4),
        }

    def run(model_type: str) -> dict:
        params = TrainParams.parse(
            {"data_name": "financial_sentiment", "data_version": "v1", "model_type": model_type}
        )
        result = train_models(params)
        gate = validate_model(params, result.model_version)
        f1 = {
            "test_f1_macro": round(result.metrics["test_f1_macro"], 4),
            "holdout_f1_macro": round(result.metrics["holdout_f1_macro"], 4),
        }
        return measured(model_type, result.seconds, gate.seconds, f1)

    def fresh_task(env: dict[str, str], *argv: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-c", FRESH_TASK, *argv], capture_output=True, text=True, env=env, check=True
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    def run_fresh(env: dict[str, str]) -> dict:
        train = fresh_task(env, "train")
        validate = fresh_task(env, "validate", train["version"])
        return measured("logistic_regression", train["seconds"], validate["seconds"])

    logistic = [run("logistic_regression") for _ in range(max(args.repeats, 2))]
    cold, warm = logistic[0], logistic[1:]
    fresh = [run_fresh(dict(os.environ)) for _ in range(args.repeats)]
    with mlflow_server(WORK / "server") as uri:  # tracking over HTTP, as on Databricks (REST)
        # Nothing of this process's MLflow setup may reach the tasks: they talk to the server only.
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        fresh_http = [run_fresh({**env, "MLFLOW_TRACKING_URI": uri}) for _ in range(args.repeats)]
    rows = [warm[-1]] + [run(t) for t in MODEL_TYPES[1:]]
    warm_share = statistics.median(r["mlflow_share"] for r in warm)
    job_share = statistics.median(r["job_mlflow_share"] for r in warm)
    fresh_share = statistics.median(r["mlflow_share"] for r in fresh)
    fresh_job_share = statistics.median(r["job_mlflow_share"] for r in fresh)
    http_share = statistics.median(r["mlflow_share"] for r in fresh_http)
    http_job_share = statistics.median(r["job_mlflow_share"] for r in fresh_http)
    results = {
        "data": str(args.data),
        "splits": created.splits,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "model_types": rows,
        "logistic_regression_cold": cold,
        "logistic_regression_warm": warm,
        "logistic_regression_fresh_process": fresh,
        "logistic_regression_fresh_process_http": fresh_http,
        "logistic_regression_warm_mlflow_share_median": warm_share,
        "logistic_regression_job_mlflow_share_median": job_share,
        "logistic_regression_fresh_mlflow_share_median": fresh_share,
        "logistic_regression_fresh_job_mlflow_share_median": fresh_job_share,
        "logistic_regression_fresh_http_mlflow_share_median": http_share,
        "logistic_regression_fresh_http_job_mlflow_share_median": http_job_share,
    }
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "train.json").write_text(json.dumps(results, indent=2))

    header = ("model type", "test F1", "holdout F1", "fit s", "train s", "MLflow s", "share", "job share")
    print("{:20s} {:>8s} {:>10s} {:>7s} {:>8s} {:>9s} {:>6s} {:>9s}".format(*header))
    for r in rows:
        print(
            f"{r['model_type']:20s} {r['test_f1_macro']:8.4f} {r['holdout_f1_macro']:10.4f}"
            f" {r['fit_seconds']:7.2f} {r['train_seconds']:8.2f} {r['mlflow_seconds']:9.2f}"
            f" {r['mlflow_share']:6.1%} {r['job_mlflow_share']:9.1%}"
        )
    print(f"logistic regression, cold (first run, new store): train task {cold['mlflow_share']:.1%}")
    print(f"logistic regression, warm: MLflow share of the train task {warm_share:.1%} (median)")
    print(f"logistic regression, warm: MLflow share of the job (train + validate) {job_share:.1%} (median)")
    print(f"logistic regression, fresh process: train task {fresh_share:.1%}, job {fresh_job_share:.1%}")
    print(
        "logistic regression, fresh process, mlflow server over HTTP:"
        f" train task {http_share:.1%}, job {http_job_share:.1%}"
    )
    f1 = rows[0]["test_f1_macro"]
    print(
        f"target macro-F1 >= 0.65 (logistic regression, test): {f1:.4f} {'met' if f1 >= 0.65 else 'NOT met'}"
    )
    shares = {"warm train task": warm_share, "warm job": job_share, "fresh job": fresh_job_share}
    for what, share in shares.items():
        print(f"target MLflow share < 15% ({what}): {share:.1%} {'met' if share < 0.15 else 'NOT met'}")
    return 0


# -- the tables: every model type beside a plain scikit-learn pipeline --------------------------

SHARED = HERE.parent.parent / "shared" / "data"
#: (data set, raw file, create_data parameters, train parameters) of each table measured.
CLASSIFICATION_TABLES = (
    (
        "campaign",
        SHARED / "campaign" / "campaign_data.parquet",
        {"label_col": "IsSuccessful", "id_col": "CampaignID", "task": "classification"},
        {"feature_params": '{"drop_columns": ["RaisedAmount"]}'},  # known only once a campaign ends
    ),
    (
        "customer_segment",
        SHARED / "customer_segment" / "synthetic_customer_data.csv",
        {"label_col": "customer_segment", "id_col": "customer_id", "rare_classes": "train"},
        {},
    ),
)
REGRESSION_TABLES = (
    (
        "campaign_raised",
        SHARED / "campaign" / "campaign_data.parquet",
        {"label_col": "RaisedAmount", "id_col": "CampaignID", "task": "regression"},
        {"feature_params": '{"drop_columns": ["IsSuccessful"]}'},  # derived from the label itself
    ),
    (
        "customer_spent",
        SHARED / "customer_segment" / "synthetic_customer_data.csv",
        {"label_col": "total_spent", "id_col": "customer_id", "task": "regression"},
        {"feature_params": '{"drop_columns": ["customer_segment"]}'},  # a segment is named by spending
    ),
)
CLASSIFIERS = (
    "logistic_regression",
    "naive_bayes",
    "linear_svm",
    "ridge",
    "huber",
    "random_forest",
    "gradient_boosting",
)
REGRESSORS = ("ridge", "huber", "random_forest", "gradient_boosting")


def tables(suite: str) -> dict:
    """Each table's model types: their scores, the train task's seconds, and by hand."""
    root = WORK / f"train_{suite}"
    shutil.rmtree(root, ignore_errors=True)
    os.environ["BRICKSML_LOCAL_ROOT"] = str(root)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from bricksml.jobs.create_data import create_data
    from bricksml.params import CreateDataParams

    regression = suite == "regression"
    measured = {"suite": suite, "python": sys.version.split()[0], "cpus": os.cpu_count(), "tables": {}}
    for name, raw, roles, train in REGRESSION_TABLES if regression else CLASSIFICATION_TABLES:
        if not raw.is_file():
            print(f"{raw} is not here: {name} skipped (it lives outside the repository)")
            continue
        created = create_data(
            CreateDataParams.parse({"data_name": name, "data_version": "v1", "raw_path": str(raw), **roles})
        )
        print(f"{name}: {created.splits} ({created.manifest['task']})")
        rows = [
            _one_type(name, model_type, train, regression)
            for model_type in (REGRESSORS if regression else CLASSIFIERS)
        ]
        measured["tables"][name] = {"splits": created.splits, "model_types": rows}
        _print_rows(name, rows, regression)
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / f"train_{suite}.json").write_text(json.dumps(measured, indent=2))
    return measured


def _one_type(name: str, model_type: str, train: dict, regression: bool) -> dict:
    from bricksml.jobs.train_models import train_models
    from bricksml.params import TrainParams

    params = TrainParams.parse(
        {"data_name": name, "data_version": "v1", "model_type": model_type, "gate_mode": "disabled", **train}
    )
    result = train_models(params)
    by_hand = _by_hand(params, model_type, regression)
    keys = ("rmse", "r2") if regression else ("f1_macro", "accuracy")
    row = {
        "model_type": model_type,
        **{
            f"{split}_{k}": round(result.metrics[f"{split}_{k}"], 4)
            for split in ("test", "holdout")
            for k in keys
        },
        "fit_seconds": round(result.seconds["fit"], 3),
        "train_seconds": round(result.seconds["total"], 3),
        "mlflow_seconds": round(result.seconds["mlflow"], 3),
        "by_hand_seconds": round(by_hand["seconds"], 3),
        "by_hand": {k: round(v, 4) for k, v in by_hand.items() if k not in ("seconds", "baseline")},
        "ratio": round(result.seconds["total"] / by_hand["seconds"], 2),
    }
    if regression:
        row["baseline_mean"] = by_hand["baseline"]
    return row


def _by_hand(params: object, model_type: str, regression: bool) -> dict:
    """The same estimator in a plain pipeline, fitted and scored on the same splits, timed whole."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

    from bricksml.data.versions import open_version
    from bricksml.models.types import MODEL_TYPES, fit_params

    started = time.perf_counter()
    version = open_version(params.data_root, params.data_name, params.data_version)  # type: ignore[attr-defined]
    frames = {split: pd.read_parquet(version.split_file(split)) for split in version.splits}
    dropped = params.feature_params.get("drop_columns", [])  # type: ignore[attr-defined]
    columns = [c for c in version.feature_columns if c not in dropped]
    train = frames["train"]
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(train[c])]
    categorical = [c for c in columns if c not in numeric]
    kind = MODEL_TYPES[model_type]
    task = "regression" if regression else "classification"
    scaler = MinMaxScaler() if kind.nonnegative else StandardScaler()
    pipeline = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        (
                            "numeric",
                            Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", scaler)]),
                            numeric,
                        ),
                        (
                            "categorical",
                            Pipeline(
                                [
                                    ("impute", SimpleImputer(strategy="most_frequent")),
                                    (
                                        "onehot",
                                        OneHotEncoder(handle_unknown="ignore", sparse_output=not kind.dense),
                                    ),
                                ]
                            ),
                            categorical,
                        ),
                    ],
                    sparse_threshold=0.0 if kind.dense else 0.3,
                ),
            ),
            ("model", kind.estimator({}, params.seed, task)),  # type: ignore[attr-defined]
        ]
    )
    label = version.label_col
    y = train[label].astype(float) if regression else train[label].astype(str)
    pipeline.fit(train[columns], y, **fit_params(model_type, y, task))
    out: dict = {}
    for split in ("test", "holdout"):
        truth = frames[split][label]
        if regression:
            predicted = pipeline.predict(frames[split][columns])
            out[f"{split}_rmse"] = float(np.sqrt(mean_squared_error(truth, predicted)))
            out[f"{split}_r2"] = float(r2_score(truth, predicted))
        else:
            predicted = pipeline.predict(frames[split][columns])
            present = sorted(set(truth.astype(str)))  # as bricksml scores: the classes with rows here
            out[f"{split}_f1_macro"] = float(
                f1_score(truth.astype(str), predicted, labels=present, average="macro")
            )
            out[f"{split}_accuracy"] = float(accuracy_score(truth.astype(str), predicted))
    out["seconds"] = time.perf_counter() - started
    if regression:
        holdout = frames["holdout"][label]
        out["baseline"] = {
            "holdout_rmse": round(float(np.sqrt(np.mean((holdout - y.mean()) ** 2))), 4),
            "holdout_r2": round(float(r2_score(holdout, np.full(len(holdout), y.mean()))), 4),
        }
    return out


def _print_rows(name: str, rows: list[dict], regression: bool) -> None:
    keys = ("rmse", "r2") if regression else ("f1_macro", "accuracy")
    print(f"{name}:")
    header = [
        "model type",
        *(f"{s} {k}" for s in ("test", "holdout") for k in keys),
        "train s",
        "by hand s",
        "ratio",
    ]
    print("  " + " | ".join(header))
    for r in rows:
        cells = [r["model_type"], *(f"{r[f'{s}_{k}']:.4g}" for s in ("test", "holdout") for k in keys)]
        cells += [f"{r['train_seconds']:.2f}", f"{r['by_hand_seconds']:.2f}", f"{r['ratio']:.2f}x"]
        print("  " + " | ".join(cells))
        if regression:
            print(f"    mean of train labels on holdout: {r['baseline_mean']}; by hand: {r['by_hand']}")


if __name__ == "__main__":
    sys.exit(main())
