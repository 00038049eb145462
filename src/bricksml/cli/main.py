"""Entry point: parse the command line, dispatch to one command module, report one way.

Every user mistake ends here as one line on stderr and a non-zero exit; ``--output json``
prints one envelope on stdout, on success and on failure. Only the chosen command's module is
imported (:mod:`bricksml.cli.commands`), so help and mistakes come back at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import traceback
from collections.abc import Collection, Sequence

from bricksml import __version__, runtime
from bricksml.cli.commands import BY_NAME, COMMANDS
from bricksml.errors import BricksmlError, ExitCode, first_line


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors go through the same one-line path as every other mistake.

    No abbreviated flags: ``--label`` for ``--label-col`` would silently stop meaning it the day
    another flag starts with ``--label``.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BricksmlError(f"{self.prog}: {message}")


def build_parser(with_arguments: Collection[str] | None = None) -> argparse.ArgumentParser:
    """Every command by name and help; the flags of those in ``with_arguments`` (default: all).

    A command's flags come from its module, whose import is what costs: :func:`main` asks only
    for the command being run (none for ``bricksml --help``).
    """
    parser = _Parser(prog="bricksml", description="Databricks MLOps jobs that also run on one laptop.")
    parser.add_argument("--version", action="version", version=f"bricksml {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        sub = commands.add_parser(command.NAME, help=command.HELP, description=command.HELP)
        sub.set_defaults(handler=command)
        if with_arguments is not None and command.NAME not in with_arguments:
            continue
        sub.add_argument(
            "--output",
            choices=("text", "json"),
            default="text",
            help="text for people, json for scripts",
        )
        command.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wants_json = _wants_json(argv)
    command_name = next((a for a in argv if not a.startswith("-")), "")
    try:
        chosen = [command_name] if command_name in BY_NAME else []
        args = build_parser(chosen).parse_args(argv)
        # Libraries print progress and links (MLflow does, for remote tracking servers): with
        # --output json they go to stderr, so stdout holds the envelope and nothing else.
        with contextlib.redirect_stdout(sys.stderr) if wants_json else contextlib.nullcontext():
            data = args.handler.run(args)
    except BricksmlError as exc:
        message = first_line(exc)
        return _fail(command_name, message, exc.exit_code, wants_json, getattr(exc, "data", None))
    except KeyboardInterrupt:
        return _fail(command_name, "interrupted", ExitCode.INTERRUPTED, wants_json)
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0)
    except Exception as exc:
        log = _debug_log(exc)
        return _fail(
            command_name,
            f"internal error: {type(exc).__name__}: {first_line(exc) if str(exc).strip() else ''} "
            f"(traceback in {log})",
            ExitCode.INTERNAL,
            wants_json,
        )
    if wants_json:
        print(json.dumps(_envelope(command_name, "ok", 0, data, []), default=str, indent=2))
    else:
        text = args.handler.render(data)
        if text:
            print(text)
    return 0


def _wants_json(argv: list[str]) -> bool:
    for i, arg in enumerate(argv):
        if arg == "--output=json" or (arg == "--output" and i + 1 < len(argv) and argv[i + 1] == "json"):
            return True
    return False


def _envelope(command: str, status: str, code: int, data: object, errors: list[str]) -> dict:
    return {"command": command, "status": status, "exit_code": code, "data": data, "errors": errors}


def _fail(command: str, message: str, code: int, wants_json: bool, data: object = None) -> int:
    """One line on stderr; with --output json the envelope, with what the command made (if any)."""
    print(f"error: {message}", file=sys.stderr)
    if wants_json:
        print(json.dumps(_envelope(command, "error", code, data, [message]), default=str, indent=2))
    return code


def _debug_log(exc: BaseException) -> str:
    path = runtime.local_root() / "logs" / "bricksml.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write("".join(traceback.format_exception(exc)))
    except OSError:
        logging.getLogger(__name__).exception("could not write the debug log")
        return "stderr"
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
