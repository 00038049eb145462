"""bricksml sample-data: write a realistic synthetic data set for trials, demos and tests."""

from __future__ import annotations

import argparse

from bricksml import layout
from bricksml.errors import BricksmlError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bricksml.data import sample  # pandas (~0.5 s), for the names of the kinds

    parser.add_argument("--kind", choices=sorted(sample.KINDS), default="sentiment")
    parser.add_argument("--rows", type=int, default=5000, help="number of rows (default: 5000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--drift",
        default="",
        metavar="NAME[=STRENGTH],...",
        help="make a drifted window, e.g. vocabulary=0.5,label: sentiment takes vocabulary and label,"
        " customers numeric, category and label; strength in (0, 1], default 0.5 (default: no drift)",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="file to write: .csv, .tsv, .parquet or .jsonl (workspace paths allowed)",
    )


def run(args: argparse.Namespace) -> dict:
    if args.rows < 1:
        raise BricksmlError(f"--rows must be at least 1. Got {args.rows}.")
    out = layout.real_path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".tsv", ".parquet", ".jsonl"):
        raise BricksmlError(f"--out {args.out!r}: use a .csv, .tsv, .parquet or .jsonl file name")
    from bricksml.data import sample
    from bricksml.data.store import write_parquet

    drift = sample.parse_drift(args.drift, args.kind)  # before anything is written
    frame = sample.KINDS[args.kind](args.rows, args.seed, drift or None)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if suffix == ".parquet":
        write_parquet(frame, tmp)
    elif suffix == ".jsonl":
        frame.to_json(tmp, orient="records", lines=True)
    else:
        frame.to_csv(tmp, index=False, sep="\t" if suffix == ".tsv" else ",")
    tmp.replace(out)
    return {
        "path": str(out),
        "kind": args.kind,
        "rows": len(frame),
        "columns": list(frame.columns),
        "drift": drift,
    }


def render(data: dict) -> str:
    drift = data.get("drift") or {}
    shifted = f" (drift: {', '.join(f'{k}={v:g}' for k, v in drift.items())})" if drift else ""
    return f"wrote {data['rows']} {data['kind']} rows to {data['path']}{shifted}"
