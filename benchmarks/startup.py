"""Benchmark how long a command takes to answer when it does no work: help, and refused input.

Every measurement is a whole process started as a user starts it (the ``bricksml`` console script
of this interpreter's environment, interpreter start-up included), timed from outside, the cases
alternating in each repeat so that load on a shared machine hits all of them alike; medians of
the repeats. ``python -c pass`` and ``python -c "import pandas"`` run in the same rounds as the
floors. ``--before SRC`` also runs every bricksml case against another source tree (first on
PYTHONPATH), e.g. the last commit's, for a before/after in one run. Usage:

    git archive HEAD src | tar -x -C /tmp/bricksml-head
    python benchmarks/startup.py --repeats 7 --before /tmp/bricksml-head/src
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"
BRICKSML = str(Path(sys.executable).with_name("bricksml"))
#: (label, argv, expected exit code). Refused input exits 2 (a parameter error) with one line.
CASES: list[tuple[str, list[str], int]] = [
    ("python -c pass", [sys.executable, "-c", "pass"], 0),
    ('python -c "import pandas"', [sys.executable, "-c", "import pandas"], 0),
    ("bricksml --help", [BRICKSML, "--help"], 0),
    ("bricksml train --help", [BRICKSML, "train", "--help"], 0),
    (
        "bricksml train --data-name x --data-version v1 --gate-mode on",
        [BRICKSML, "train", "--data-name", "x", "--data-version", "v1", "--gate-mode", "on"],
        2,
    ),
    ("bricksml create-data --data-name x", [BRICKSML, "create-data", "--data-name", "x"], 2),
]


def wall_seconds(argv: list[str], env: dict[str, str], expected: int) -> float:
    """One whole process, start to exit; a wrong exit code means the case measures something else."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != expected:
        raise SystemExit(f"{argv[1:]} exited {done.returncode}, expected {expected}:\n{done.stderr}")
    return seconds


def machine() -> dict[str, object]:
    with open("/proc/cpuinfo") as info:
        model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    return {"nproc": os.cpu_count(), "cpu": model, "python": sys.version.split()[0]}


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--before", default=None, help="source tree (its src/) to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["BRICKSML_LOCAL_ROOT"] = tmp  # nothing of the user's local workspace is touched
        trees = {"after": env}
        if args.before:
            trees["before"] = {**env, "PYTHONPATH": str(Path(args.before).resolve())}
        seconds: dict[tuple[str, str], list[float]] = {}
        load_start = load()
        for _ in range(args.repeats):
            for label, argv, expected in CASES:
                for tree, tree_env in trees.items():
                    if tree == "before" and not label.startswith("bricksml"):
                        continue  # the floors do not depend on the tree
                    seconds.setdefault((label, tree), []).append(wall_seconds(argv, tree_env, expected))
        load_end = load()
    rows = []
    for label, _, _ in CASES:
        after = seconds[(label, "after")]
        before = seconds.get((label, "before"))
        row = {
            "command": label,
            "median_s": round(statistics.median(after), 3),
            "min_s": round(min(after), 3),
            "max_s": round(max(after), 3),
        }
        if before:
            row["before_median_s"] = round(statistics.median(before), 3)
            row["before_min_s"] = round(min(before), 3)
        rows.append(row)
        print(json.dumps(row))
    result = {
        "machine": machine(),
        "load_start": load_start,
        "load_end": load_end,
        "repeats": args.repeats,
        "rows": rows,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}))
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "startup.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
