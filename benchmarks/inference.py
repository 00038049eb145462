"""Benchmark the inference job against the floor: the same fitted pipeline's predict_proba in memory.

A logistic regression pipeline is trained once on generated sentences; then, alternating, each in a
fresh Python process that reports its own timed section and peak RSS:

- floor: the rows already in a DataFrame, ``pipeline.predict_proba`` on all of them (reading the
  Parquet file happens before the clock starts);
- bricksml: ``run_inference`` on the Parquet file, chunked, writing predictions.parquet and
  metadata.json and logging its MLflow run (I/O included).

Usage:

    python benchmarks/inference.py --sizes 100000,1000000 --repeats 3 --batch-sizes 50000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from measure import PEAK

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "inference"
MODEL = "main.bricksml.bench"

FLOOR = """
import json, sys, time
import mlflow, pandas as pd
from bricksml.tracking import setup
setup.configure()
model = mlflow.sklearn.load_model(sys.argv[1])
frame = pd.read_parquet(sys.argv[2])
start = time.perf_counter()
model.predict_proba(frame[["Sentence"]])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows": len(frame),
    "peak_mb": peak_mb()}))
"""

BRICKSML = """
import json, sys, time
from bricksml.jobs.inference import run_inference
from bricksml.params import InferenceParams
raw = {"model_uri": sys.argv[1], "input_path": sys.argv[2], "batch_size": sys.argv[3]}
params = InferenceParams.parse(raw)
start = time.perf_counter()
result = run_inference(params)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows": result.rows,
    "peak_mb": peak_mb()}))
"""


def measure(script: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PEAK + script, *args],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepare(sizes: list[int]) -> tuple[str, dict[int, Path]]:
    from bricksml.data.sample import sentiment
    from bricksml.jobs.create_data import create_data
    from bricksml.jobs.train_models import train_models
    from bricksml.params import CreateDataParams, TrainParams

    raw = WORK / "train.csv"
    sentiment(20000, 0).to_csv(raw, index=False)
    create_data(
        CreateDataParams.parse(
            {
                "data_name": "bench",
                "data_version": "v1",
                "label_col": "Sentiment",
                "text_col": "Sentence",
                "id_col": "id",
                "raw_path": str(raw),
            }
        )
    )
    result = train_models(
        TrainParams.parse(
            {"data_name": "bench", "data_version": "v1", "model_name": MODEL, "gate_mode": "disabled"}
        )
    )
    inputs = {}
    for size in sizes:
        inputs[size] = WORK / f"score_{size}.parquet"
        sentiment(size, 7).to_parquet(inputs[size], index=False)
    return result.model_uri, inputs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", default="50000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    batches = args.batch_sizes.split(",")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    os.environ["BRICKSML_LOCAL_ROOT"] = str(WORK / "root")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    uri, inputs = prepare(sizes)

    results: dict = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "sizes": {}}
    for size in sizes:
        runs: dict[str, list[dict]] = {"floor": [], **{f"bricksml@{b}": [] for b in batches}}
        for _ in range(args.repeats):
            runs["floor"].append(measure(FLOOR, uri, str(inputs[size])))
            for batch in batches:
                runs[f"bricksml@{batch}"].append(measure(BRICKSML, uri, str(inputs[size]), batch))
        summary = {}
        for name, samples in runs.items():
            seconds = statistics.median(s["seconds"] for s in samples)
            summary[name] = {
                "seconds": round(seconds, 3),
                "rows_per_second": round(size / seconds),
                "peak_mb": round(statistics.median(s["peak_mb"] for s in samples), 1),
            }
        results["sizes"][size] = summary
        floor = summary["floor"]["rows_per_second"]
        for name, figures in summary.items():
            ratio = figures["rows_per_second"] / floor
            print(
                f"{size:>9,} rows {name:16s} {figures['seconds']:7.2f} s"
                f" {figures['rows_per_second']:>9,} rows/s ({ratio:.2f}x floor)"
                f"  peak {figures['peak_mb']:7.1f} MB"
            )
    (WORK.parent / "inference.json").write_text(json.dumps(results, indent=2))
    if len(sizes) >= 2:
        small, big = min(sizes), max(sizes)
        for batch in batches:
            name = f"bricksml@{batch}"
            throughput = (
                results["sizes"][big][name]["rows_per_second"]
                / results["sizes"][big]["floor"]["rows_per_second"]
            )
            memory = results["sizes"][big][name]["peak_mb"] / results["sizes"][small][name]["peak_mb"]
            print(
                f"batch {batch}: throughput {throughput:.2f}x floor at {big:,} rows (target >= 0.8x)"
                f" {'met' if throughput >= 0.8 else 'NOT met'}"
            )
            print(
                f"batch {batch}: peak memory {big:,} / {small:,} rows = {memory:.2f}x (target <= 1.5x)"
                f" {'met' if memory <= 1.5 else 'NOT met'}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
