"""Benchmark create_data against the I/O floor (pandas.read_csv + to_parquet), side by side.

Each measurement runs in a fresh Python process that reports its own wall time and peak RSS, so the
two are measured the same way in the same run. A third process imports what the create_data process
imports and reads nothing: its peak RSS is the interpreter's baseline, so "peak minus baseline" per
raw MB shows what the data costs, next to the plain "peak / raw size". Usage:

    python benchmarks/create_data.py --sizes 100000,1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from measure import PEAK

WORK = Path(__file__).resolve().parent / ".work"

FLOOR = """
import json, sys, time
import pandas as pd
start = time.perf_counter()
pd.read_csv(sys.argv[1]).to_parquet(sys.argv[2], index=False)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb()}))
"""

FLOOR_BASELINE = """
import json
import pandas as pd
print(json.dumps({"seconds": 0.0, "peak_mb": peak_mb()}))
"""

IMPORTS = """
import json, sys, time
from bricksml.jobs.create_data import create_data
from bricksml.params import CreateDataParams
"""

BASELINE = (
    IMPORTS
    + """
print(json.dumps({"seconds": 0.0, "peak_mb": peak_mb()}))
"""
)

CREATE_DATA = (
    IMPORTS
    + """
params = CreateDataParams.parse({"data_name": "bench", "data_version": sys.argv[2], "label_col": "Sentiment",
    "text_col": "Sentence", "id_col": "id", "raw_path": sys.argv[1], "holdout": "true"})
start = time.perf_counter()
create_data(params)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb()}))
"""
)


def raw_csv(rows: int) -> Path:
    """Generate (once) a raw CSV of ``rows`` synthetic sentences."""
    from bricksml.data import sample

    path = WORK / f"sentiment_{rows}.csv"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        sample.sentiment(rows, seed=1).to_csv(path, index=False)
    return path


def measure(script: str, *args: str, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PEAK + script, *args], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = []
    for rows in [int(s) for s in args.sizes.split(",")]:
        csv = raw_csv(rows)
        floor, ours, base, floor_base = [], [], [], []
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "BRICKSML_LOCAL_ROOT": tmp}
            for i in range(args.repeats):  # alternate, so drift on a shared machine hits both
                floor.append(measure(FLOOR, str(csv), f"{tmp}/floor.parquet", env=env))
                ours.append(measure(CREATE_DATA, str(csv), f"v{i}", env=env))
                base.append(measure(BASELINE, env=env))
                floor_base.append(measure(FLOOR_BASELINE, env=env))
        raw_mb = csv.stat().st_size / 2**20
        row = {
            "rows": rows,
            "raw_mb": round(raw_mb, 1),
            "floor_s": round(statistics.median(r["seconds"] for r in floor), 2),
            "create_data_s": round(statistics.median(r["seconds"] for r in ours), 2),
            "floor_peak_mb": round(statistics.median(r["peak_mb"] for r in floor)),
            "create_data_peak_mb": round(statistics.median(r["peak_mb"] for r in ours)),
            "baseline_peak_mb": round(statistics.median(r["peak_mb"] for r in base)),
            "floor_baseline_peak_mb": round(statistics.median(r["peak_mb"] for r in floor_base)),
        }
        row["time_ratio"] = round(row["create_data_s"] / row["floor_s"], 2)
        row["peak_to_raw"] = round(row["create_data_peak_mb"] / raw_mb, 2)
        row["above_baseline_to_raw"] = round(
            (row["create_data_peak_mb"] - row["baseline_peak_mb"]) / raw_mb, 2
        )
        row["floor_peak_to_raw"] = round(row["floor_peak_mb"] / raw_mb, 2)
        row["floor_above_baseline_to_raw"] = round(
            (row["floor_peak_mb"] - row["floor_baseline_peak_mb"]) / raw_mb, 2
        )
        results.append(row)
        print(json.dumps(row))
    (WORK / "create_data.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
