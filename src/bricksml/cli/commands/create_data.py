"""bricksml create-data: the create_data step straight from the library, for scripts and CI."""

from __future__ import annotations

import argparse

from bricksml.cli.flags import add_contract_flags, contract_values
from bricksml.jobs.create_data import create_data
from bricksml.params import CreateDataParams
from bricksml.progress import Progress

NAME = "create-data"
HELP = "Turn raw files into an immutable, versioned set of train/test/holdout splits."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_contract_flags(parser, CreateDataParams)


def run(args: argparse.Namespace) -> dict:
    params = CreateDataParams.parse(contract_values(args, CreateDataParams))
    return create_data(params, progress=Progress()).to_dict()


def render(data: dict) -> str:
    status = "created" if data["status"] == "created" else "already exists with identical content (no-op)"
    lines = [f"data version {data['data_name']}/{data['data_version']} {status}: {data['path']}"]
    lines += [f"  {name}: {rows} rows" for name, rows in data["splits"].items()]
    q = data["quality"]
    lines.append(
        f"  quality: {q['rows_in']} rows read, {q['missing_label']} missing label, "
        f"{q['empty_text']} empty text, {q['exact_duplicates']} exact duplicates, "
        f"{q['conflicting_groups']} conflicting texts"
    )
    return "\n".join(lines)
