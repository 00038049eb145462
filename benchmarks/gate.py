"""What the gate's noise check costs: the paired bootstrap next to scoring both models once.

The floor is what any gate must do on the split: scikit-learn's macro-F1 of the challenger and of
the champion. The bootstrap (2000 resamples, as the gate runs it) comes on top of that; the ratio
says what taking the uncertainty into account costs. Both run in this one process, alternating.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from sklearn.metrics import f1_score

from bricksml.models import compare

LABELS = ["negative", "neutral", "positive"]


def _predictions(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(LABELS, rows, p=[0.15, 0.55, 0.30])
    a = np.where(rng.random(rows) < 0.85, y, rng.choice(LABELS, rows))
    b = np.where(rng.random(rows) < 0.84, y, rng.choice(LABELS, rows))
    return y, a, b


def _floor(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    start = time.perf_counter()
    f1_score(y, a, average="macro"), f1_score(y, b, average="macro")
    return time.perf_counter() - start


def _bootstrap(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    start = time.perf_counter()
    compare.paired_bootstrap("f1_macro", y, a, b, LABELS, seed=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| rows | floor: macro-F1 of both models | paired bootstrap (2000) | ratio |")
    print("|---:|---:|---:|---:|")
    for rows in (int(s) for s in args.sizes.split(",")):
        y, a, b = _predictions(rows, seed=rows)
        floor, boot = [], []
        for _ in range(args.repeats):
            floor.append(_floor(y, a, b))
            boot.append(_bootstrap(y, a, b))
        f, t = statistics.median(floor), statistics.median(boot)
        print(f"| {rows:,} | {f:.3f} s | {t:.3f} s | {t / f:.2f}x |")


if __name__ == "__main__":
    main()
