"""Every error a user can fix, and every exit code, in one place.

Each error carries one line that says what, which value, and what to do; the CLI prints it and
exits with the error's code. Internal errors (bugs) are not here: they exit ``INTERNAL``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What ``bricksml`` exits with; the README's table lists the same codes."""

    OK = 0
    USAGE = 2  # a flag, a parameter or a path the command cannot use
    DATA = 3  # the data cannot serve the job as asked
    EXISTS = 4  # an immutable output already exists with other content
    TASK_FAILED = 5  # a task of a local job run failed
    RUN_FAILED = 6  # a Databricks job run ended in another state than SUCCESS
    RUN_TIMEOUT = 7  # a Databricks job run did not finish in time
    WORKSPACE = 8  # the workspace refused or failed a request
    REJECTED = 9  # the gate rejected the model and --fail-on-reject was given
    INTERNAL = 70  # a bug: the traceback is in the debug log
    INTERRUPTED = 130  # Ctrl-C


class BricksmlError(Exception):
    """A user-facing failure; the CLI prints its message as one line and exits non-zero."""

    exit_code: ExitCode = ExitCode.USAGE


class ParameterError(BricksmlError):
    """A job parameter has a value the job cannot use."""

    def __init__(self, name: str, owner: str, expected: str, got: object) -> None:
        self.name = name
        self.owner = owner
        super().__init__(f"The '{name}' parameter of {owner} must be {expected}. Got {got!r} instead.")


class DataError(BricksmlError):
    """The input data cannot serve the job as asked (missing column, too-small class, ...)."""

    exit_code = ExitCode.DATA


class VersionExistsError(BricksmlError):
    """An immutable output (a data version, an inference result) already exists."""

    exit_code = ExitCode.EXISTS


class ModelRejectedError(BricksmlError):
    """The promotion gate rejected the model and the user asked for that to fail the command.

    A rejection is a decision, not a failure: only ``--fail-on-reject`` turns it into this error.
    ``data`` keeps what the command produced (metrics, the gate's record) for whoever reports it.
    """

    exit_code = ExitCode.REJECTED

    def __init__(self, message: str, data: object = None) -> None:
        super().__init__(message)
        self.data = data


class OutputError(BricksmlError):
    """An output location cannot be written (read-only, full, not a folder)."""


class RegistryError(BricksmlError):
    """A registry lookup found nothing; the message says what was asked and what exists."""


class UnsafeModelError(DataError):
    """A model artifact that loading could let run code; refused before any of it is deserialized."""


class TaskFailedError(BricksmlError):
    """A task of a local job run failed; the executed notebook is kept."""

    exit_code = ExitCode.TASK_FAILED


class RunFailedError(BricksmlError):
    """The job run ended in another state than SUCCESS."""

    exit_code = ExitCode.RUN_FAILED


class RunTimeoutError(BricksmlError):
    """The job run did not finish in time; it was cancelled."""

    exit_code = ExitCode.RUN_TIMEOUT


class WorkspaceError(BricksmlError):
    """The workspace refused or failed a request (auth, permissions, missing job)."""

    exit_code = ExitCode.WORKSPACE


class SpecError(BricksmlError):
    """A model, feature or search specification names something the code cannot build.

    Lower layers raise it with the bare problem; the job turns it into a parameter error once,
    naming the parameter (``model_params``, ``feature_params``, ``search``).
    """


class FeatureParamError(SpecError):
    """``feature_params`` (or the columns they name) cannot build the features."""


class ModelParamError(SpecError):
    """``model_params`` name a parameter the estimator lacks or a value it refuses."""


class SearchError(SpecError):
    """The ``search`` specification cannot be run."""


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """An exception's message as one line (its first), or its type's name when it says nothing.

    ``limit`` cuts a long line (a parser may quote a whole record) to that many characters.
    """
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if limit is None or len(line) <= limit else line[: limit - 3] + "..."
