"""Errors a user can fix: each carries one line that says what, which value, and what to do."""

from __future__ import annotations


class BricksmlError(ValueError):
    """A user-facing failure; the CLI prints its message as one line and exits non-zero."""

    exit_code = 2


class ParameterError(BricksmlError):
    """A job parameter has a value the job cannot use."""

    def __init__(self, name: str, owner: str, expected: str, got: object) -> None:
        self.name = name
        self.owner = owner
        super().__init__(f"The '{name}' parameter of {owner} must be {expected}. Got {got!r} instead.")


class DataError(BricksmlError):
    """The input data cannot serve the job as asked (missing column, too-small class, ...)."""

    exit_code = 3


class VersionExistsError(BricksmlError):
    """An immutable output (a data version, an inference result) already exists."""

    exit_code = 4


class ModelRejectedError(BricksmlError):
    """The promotion gate rejected the model and the user asked for that to fail the command.

    A rejection is a decision, not a failure: only ``--fail-on-reject`` turns it into this error.
    ``data`` keeps what the command produced (metrics, the gate's record) for whoever reports it.
    """

    exit_code = 9

    def __init__(self, message: str, data: object = None) -> None:
        super().__init__(message)
        self.data = data


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """An exception's message as one line (its first), or its type's name when it says nothing.

    ``limit`` cuts a long line (a parser may quote a whole record) to that many characters.
    """
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if limit is None or len(line) <= limit else line[: limit - 3] + "..."
