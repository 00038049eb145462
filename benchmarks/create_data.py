"""Benchmark create_data against the I/O floor (pandas.read_csv + to_parquet), side by side.

Each measurement runs in a fresh Python process that reports its own wall time and peak RSS, so the
two are measured the same way in the same run. A third process imports what the create_data process
imports and reads nothing: its peak RSS is the interpreter's baseline, so "peak minus baseline" per
raw MB shows what the data costs, next to the plain "peak / raw size".

The same rounds also time whole processes as a user runs them, interpreter start-up and imports
included: ``bricksml create-data ...`` (the console script) against
``python -c "import pandas; pandas.read_csv(f).to_parquet(o)"``, timed from outside, peak RSS from
``wait4``. That peak is the child's own as long as this process stays smaller than the child (a
vfork + exec child starts from its parent's peak, see ``measure.py``): the raw files are generated
in a child for that, and this process's own peak is reported next to them. A last process runs the
job once more and takes its peak step by step (imports, reading, checking, splitting, writing):
where the peak comes from. Usage:

    python benchmarks/create_data.py --sizes 100000,1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
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


#: The job once more, its peak taken step by step: where in the job the peak comes from.
STEPS = (
    IMPORTS
    + """
import io
from bricksml.progress import Progress

steps = {}

class Steps(io.TextIOBase):
    # A progress line that names a step starts it: the peak since the last one is the last step's.
    current = "imports"

    def write(self, text):
        words = text.split("] ", 1)[-1].split()
        if words and words[0] in ("reading", "checking", "splitting", "writing", "end"):
            steps[Steps.current] = round(peak_mb())
            Steps.current = words[0]
            reset_peak()
        return len(text)

params = CreateDataParams.parse({"data_name": "bench", "data_version": sys.argv[2], "label_col": "Sentiment",
    "text_col": "Sentence", "id_col": "id", "raw_path": sys.argv[1], "holdout": "true"})
create_data(params, progress=Progress(True, Steps()))
Steps().write("[] end")
print(json.dumps({"seconds": 0.0, "peak_mb": 0.0, "steps": steps}))
"""
)

#: The floor as one command line, exactly as a user would type it.
FLOOR_COMMAND = "import pandas, sys; pandas.read_csv(sys.argv[1]).to_parquet(sys.argv[2])"
BRICKSML = str(Path(sys.executable).with_name("bricksml"))
GENERATE = """
import sys
from bricksml.data import sample
sample.sentiment(int(sys.argv[1]), seed=1).to_csv(sys.argv[2], index=False)
"""


def raw_csv(rows: int) -> Path:
    """Generate (once, in a child: this process must stay small) a raw CSV of ``rows`` sentences."""
    path = WORK / f"sentiment_{rows}.csv"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", GENERATE, str(rows), str(path)], check=True)
    return path


def cli_argv(csv: Path, version: str) -> list[str]:
    """``bricksml create-data`` with the parameters of :data:`CREATE_DATA`."""
    return [
        BRICKSML,
        "create-data",
        *("--data-name", "bench", "--data-version", version, "--label-col", "Sentiment"),
        *("--text-col", "Sentence", "--id-col", "id", "--raw-path", str(csv), "--holdout"),
    ]


def measure_whole(argv: list[str], env: dict[str, str]) -> dict:
    """A whole process, start to exit, and its peak RSS (``ru_maxrss`` from ``wait4``)."""
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: progress lines cannot fill it
        start = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{argv} exited {child.returncode}: {err.read().decode()}")
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024}


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
        floor, ours, base, floor_base, floor_whole, cli_whole = [], [], [], [], [], []
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "BRICKSML_LOCAL_ROOT": tmp}
            for i in range(args.repeats):  # alternate, so drift on a shared machine hits both
                floor.append(measure(FLOOR, str(csv), f"{tmp}/floor.parquet", env=env))
                ours.append(measure(CREATE_DATA, str(csv), f"v{i}", env=env))
                base.append(measure(BASELINE, env=env))
                floor_base.append(measure(FLOOR_BASELINE, env=env))
                floor_argv = [sys.executable, "-c", FLOOR_COMMAND, str(csv), f"{tmp}/floor_whole.parquet"]
                floor_whole.append(measure_whole(floor_argv, env))
                cli_whole.append(measure_whole(cli_argv(csv, f"cli{i}"), env))
            steps = measure(STEPS, str(csv), "steps", env=env)["steps"]
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
        row["whole_floor_s"] = round(statistics.median(r["seconds"] for r in floor_whole), 2)
        row["whole_cli_s"] = round(statistics.median(r["seconds"] for r in cli_whole), 2)
        row["whole_time_ratio"] = round(row["whole_cli_s"] / row["whole_floor_s"], 2)
        row["whole_floor_peak_mb"] = round(statistics.median(r["peak_mb"] for r in floor_whole))
        row["whole_cli_peak_mb"] = round(statistics.median(r["peak_mb"] for r in cli_whole))
        row["whole_cli_peak_to_raw"] = round(row["whole_cli_peak_mb"] / raw_mb, 2)
        row["whole_time_ratios"] = [
            round(c["seconds"] / f["seconds"], 2) for c, f in zip(cli_whole, floor_whole, strict=True)
        ]
        # The peak of each step of the job, from what the process held when the step began.
        row["step_peaks_mb"] = steps
        # Must stay below every child's peak, or ru_maxrss above is this process's, not theirs.
        row["parent_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        row["load"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        results.append(row)
        print(json.dumps(row))
    (WORK / "create_data.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
