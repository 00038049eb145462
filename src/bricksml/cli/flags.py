"""Command-line flags derived from a parameter contract: the parameter name with dashes."""

from __future__ import annotations

import argparse
from typing import Any

from bricksml.params.base import Contract


def flag_name(param_name: str) -> str:
    return "--" + param_name.replace("_", "-")


def add_contract_flags(parser: argparse.ArgumentParser, contract: type[Contract]) -> None:
    """One flag per parameter; values stay strings so the contract parses them in one place."""
    group = parser.add_argument_group(f"{contract.job} parameters")
    for f in contract.fields():
        meta = f.metadata
        default = contract.default_strings()[f.name]
        required = f.name in contract.required()
        help_text = meta["help"] + ("" if required or default == "" else f" (default: {default})")
        if meta["kind"] == "bool":
            group.add_argument(
                flag_name(f.name),
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            group.add_argument(
                flag_name(f.name),
                dest=f.name,
                default=None,
                metavar=f.name.upper(),
                choices=meta["choices"],
                help=help_text + (" (required)" if required else ""),
            )


def contract_values(args: argparse.Namespace, contract: type[Contract]) -> dict[str, Any]:
    """The flags the user gave, by parameter name (absent flags fall back to the defaults)."""
    return {name: getattr(args, name) for name in contract.names() if getattr(args, name, None) is not None}
