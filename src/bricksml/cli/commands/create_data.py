"""bricksml create-data: the create_data step straight from the library, for scripts and CI."""

from __future__ import annotations

import argparse

from bricksml.cli.flags import add_contract_flags, contract_values
from bricksml.params import CreateDataParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_contract_flags(parser, CreateDataParams)


def run(args: argparse.Namespace) -> dict:
    params = CreateDataParams.parse(contract_values(args, CreateDataParams))
    # The job needs pandas and pyarrow: imported once the parameters are known to be good.
    from bricksml.jobs.create_data import create_data
    from bricksml.progress import Progress

    return create_data(params, progress=Progress()).to_dict()


def render(data: dict) -> str:
    from bricksml.data import leaks  # pandas, loaded by the run that made ``data`` anyway

    status = "created" if data["status"] == "created" else "already exists with identical content (no-op)"
    lines = [f"data version {data['data_name']}/{data['data_version']} {status}: {data['path']}"]
    lines.append(f"  task: {data.get('task')} ({data.get('features')} features)")
    lines += [f"  {name}: {rows} rows" for name, rows in data["splits"].items()]
    q = data["quality"]
    rows, text = q["rows"], data.get("features") == "text"
    dropped = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in rows["dropped"].items() if n)
    conflicts = "texts" if text else "sets of rows with the same features"
    lines.append(
        f"  rows: {rows['records_in_file']} records in the raw files, {rows['read']} read, "
        f"{rows['kept']} kept (dropped: {dropped or 'none'})"
        + (f"; {q['conflicting_groups']} {conflicts} with other labels" if q["conflicting_groups"] else "")
    )
    lines += [
        f"  class {name!r} ({count} rows) is in train only (rare_classes=train)"
        for name, count in q.get("rare_classes", {}).items()
    ]
    lines += [f"  {leaks.describe(leak)}" for leak in q.get("suspected_leaks", [])]
    if q.get("label_stats"):
        from bricksml.data.quality import label_line

        lines.append(f"  {label_line(q['label_stats'])}")
    return "\n".join(lines)
