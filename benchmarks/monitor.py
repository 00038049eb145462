"""Benchmark the monitor job on a window of 1M predictions: against reading the window, and against Evidently.

A logistic regression pipeline is trained once on generated sentences and scores a window of
``--rows`` generated sentences (a third of them in new words) with the inference job; then,
alternating, each in a fresh Python process timed whole by this one (start-up and imports
included) with its peak RSS from ``/usr/bin/time``:

- read: pandas reads what the monitor reads of the window (predictions.parquet; the id, text and
  label columns of its input file) and nothing else: the floor;
- bricksml: ``bricksml monitor`` on the window (SciPy statistics, the report with its plots, the
  MLflow run);
- evidently: Evidently's ``DataDriftPreset`` on the same window (text and predicted class) against
  the training split with the model's predictions computed beforehand, its HTML report saved.

Evidently does not run with pandas 3 (0.7.23 imports a pandas 2 internal); it is measured from a
separate environment that holds it and pandas 2 (``--evidently-python``), made like this:

    python -m venv /tmp/ev
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/ev/lib/python3.11/site-packages/bricksml.pth
    /tmp/ev/bin/pip install evidently "pandas<3"

Usage:

    python benchmarks/monitor.py --rows 1000000 --repeats 3 --evidently-python /tmp/ev/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "monitor"
MODEL = "main.bricksml.bench_monitor"

READ = """
import sys
import pandas as pd
import pyarrow.parquet as pq
predictions = pd.read_parquet(sys.argv[1] + "/predictions.parquet")
inputs = pd.read_parquet(sys.argv[2], columns=["id", "Sentence", "Sentiment"])
print(len(predictions), len(inputs))
"""

EVIDENTLY = """
import json, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
reference = pd.read_parquet(sys.argv[3])
predictions = pd.read_parquet(sys.argv[1] + "/predictions.parquet", columns=["prediction"])
inputs = pd.read_parquet(sys.argv[2], columns=["Sentence"])
current = pd.DataFrame({"Sentence": inputs["Sentence"], "prediction": predictions["prediction"].astype(str)})
definition = DataDefinition(text_columns=["Sentence"], categorical_columns=["prediction"])
snapshot = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(current, data_definition=definition),
    Dataset.from_pandas(reference, data_definition=definition),
)
snapshot.save_html(sys.argv[4])
found = {}
for metric in snapshot.dict()["metrics"]:
    found[metric["metric_name"]] = metric["value"]
print(json.dumps(found, default=str))
"""


def timed(command: list[str], env: dict[str, str]) -> dict:
    """Wall seconds and peak RSS of one whole process, and what it printed last."""
    start = time.perf_counter()
    out = subprocess.run(
        ["/usr/bin/time", "-f", "peak_kb=%M", *command], capture_output=True, text=True, env=env
    )
    seconds = time.perf_counter() - start
    if out.returncode not in (0,):
        raise SystemExit(f"{command[:4]} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    peak = next(line for line in out.stderr.splitlines() if line.startswith("peak_kb="))
    return {"seconds": seconds, "peak_mb": int(peak.split("=")[1]) / 1024, "stdout": out.stdout}


def prepare(rows: int) -> dict[str, str]:
    """The trained model, the scored window and the reference with its predictions (cached)."""
    done = WORK / f"prepared-{rows}.json"
    if done.is_file():
        return json.loads(done.read_text())
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    import pandas as pd

    from bricksml.data.sample import sentiment
    from bricksml.data.versions import open_version
    from bricksml.jobs.create_data import create_data
    from bricksml.jobs.inference import run_inference
    from bricksml.jobs.train_models import train_models
    from bricksml.params import CreateDataParams, InferenceParams, TrainParams
    from bricksml.tracking import modelstore

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
    trained = train_models(
        TrainParams.parse(
            {"data_name": "bench", "data_version": "v1", "model_name": MODEL, "gate_mode": "disabled"}
        )
    )
    window = WORK / "window.parquet"
    sentiment(rows, 7, "vocabulary=0.3").to_parquet(window, index=False)
    scored = run_inference(InferenceParams.parse({"model_uri": trained.model_uri, "input_path": str(window)}))
    train = open_version("/Volumes/main/bricksml/data", "bench", "v1").read("train")
    model = modelstore.load(trained.model_uri)
    reference = pd.DataFrame(
        {"Sentence": train["Sentence"], "prediction": model.predict(train[["Sentence"]]).astype(str)}
    )
    reference.to_parquet(WORK / "reference.parquet", index=False)
    found = {
        "model_uri": trained.model_uri,
        "window": str(window),
        "batch": scored.output_path,
        "reference": str(WORK / "reference.parquet"),
        "train_rows": str(len(train)),
    }
    done.write_text(json.dumps(found, indent=2))
    return found


def import_seconds(python: str, statement: str, env: dict[str, str], repeats: int = 3) -> float:
    """Seconds ``statement`` adds to an interpreter's start: the fastest of ``repeats`` warm runs
    (a first run writes the .pyc files), less the fastest bare start."""

    def fastest(code: str) -> float:
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            subprocess.run([python, "-c", code], capture_output=True, env=env, check=True)
            times.append(time.perf_counter() - start)
        return min(times[1:])

    return round(fastest(statement) - fastest("pass"), 3)


def site_size_mb(python: str, names: list[str]) -> float:
    """Installed size of the distributions ``names`` as ``python`` sees them."""
    code = (
        "import sys, importlib.metadata as m\n"
        "total = 0\n"
        "for name in sys.argv[1:]:\n"
        "    dist = m.distribution(name)\n"
        "    paths = [dist.locate_file(f) for f in dist.files or []]\n"
        "    total += sum(p.stat().st_size for p in paths if p.is_file())\n"
        "print(total)\n"
    )
    out = subprocess.run([python, "-c", code, *names], capture_output=True, text=True, check=True)
    return int(out.stdout) / 1e6


#: What ``pip install evidently`` added to this project's environment (its dry run, December).
EVIDENTLY_ADDS = (
    "evidently Faker appdirs defusedxml deprecation distro dynaconf filelock formulaic fsspec httptools"
    " interface_meta iterative-telemetry litestar litestar-htmx markdown-it-py mdurl msgspec multipart"
    " mypy_extensions nltk patsy plotly polyfactory regex rich rich-click shellingham sniffio statsmodels"
    " tenacity tqdm typer typing-inspect ujson uuid6 uvloop watchfiles wrapt"
).split()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--evidently-python", default="", help="a Python that has evidently (see above)")
    parser.add_argument("--evidently-timeout", type=float, default=1800)
    args = parser.parse_args()
    os.environ["BRICKSML_LOCAL_ROOT"] = str(WORK.parent / "monitor-root")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    env = dict(os.environ)
    prepared = prepare(args.rows)
    bricksml = [
        sys.executable,
        "-W",
        "ignore",
        "-m",
        "bricksml.cli.main",
        "monitor",
        "--model-uri",
        prepared["model_uri"],
        "--input-path",
        prepared["batch"],
        "--serving-endpoint",
        "",
        "--output",
        "json",
    ]
    runs: dict[str, list[dict]] = {"read": [], "bricksml": [], "evidently": []}
    for repeat in range(args.repeats):
        runs["read"].append(timed([sys.executable, "-c", READ, prepared["batch"], prepared["window"]], env))
        runs["bricksml"].append(timed(bricksml, env))
        if args.evidently_python and repeat == 0:  # minutes a run: once
            html = str(WORK / "evidently.html")
            command = [args.evidently_python, "-W", "ignore", "-c", EVIDENTLY]
            runs["evidently"].append(
                timed([*command, prepared["batch"], prepared["window"], prepared["reference"], html], env)
            )
    results: dict = {
        "rows": args.rows,
        "reference_rows": int(prepared["train_rows"]),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    for name, samples in runs.items():
        if samples:
            results[name] = {
                "seconds": round(statistics.median(s["seconds"] for s in samples), 2),
                "peak_mb": round(statistics.median(s["peak_mb"] for s in samples), 1),
                "runs": len(samples),
            }
    monitored = json.loads(runs["bricksml"][-1]["stdout"])["data"]
    results["bricksml"]["in_process_seconds"] = monitored["seconds"]
    results["bricksml"]["decision"] = monitored["decision"]
    report = Path(monitored["output_path"])
    results["bricksml"]["report_kb"] = round(sum(f.stat().st_size for f in report.iterdir()) / 1024, 1)
    results["bricksml"]["flagged"] = sorted(
        f"{s['name']}:{s['metric']}={s['status']}"
        for s in monitored["summary"]["signals"]
        if s["status"] != "ok"
    )
    results["ratio_to_read"] = round(results["bricksml"]["seconds"] / results["read"]["seconds"], 2)
    results["scipy_import_seconds"] = import_seconds(
        sys.executable, "import scipy.stats, scipy.spatial.distance", env
    )
    results["scipy_installed_mb"] = round(site_size_mb(sys.executable, ["scipy"]), 1)
    if runs["evidently"]:
        results["evidently"]["report_kb"] = round((WORK / "evidently.html").stat().st_size / 1024, 1)
        results["evidently"]["found"] = json.loads(runs["evidently"][0]["stdout"].strip().splitlines()[-1])
        results["evidently_import_seconds"] = import_seconds(
            args.evidently_python, "import evidently; from evidently.presets import DataDriftPreset", env
        )
        results["evidently_installed_mb"] = round(site_size_mb(args.evidently_python, EVIDENTLY_ADDS), 1)
        results["ratio_evidently_to_bricksml"] = round(
            results["evidently"]["seconds"] / results["bricksml"]["seconds"], 2
        )
    (WORK.parent / "monitor.json").write_text(json.dumps(results, indent=2, default=str))
    for name in ("read", "bricksml", "evidently"):
        if name in results:
            print(f"{name:9s} {results[name]['seconds']:8.2f} s  peak {results[name]['peak_mb']:8.1f} MB")
    print(
        f"bricksml monitor / read = {results['ratio_to_read']:.2f}x (target <= 3x)"
        f" {'met' if results['ratio_to_read'] <= 3 else 'NOT met'}"
    )
    print(json.dumps({k: v for k, v in results.items() if k not in ("read",)}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
