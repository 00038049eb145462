"""The one way an exception becomes the one line a user reads."""

from __future__ import annotations

import re
from pathlib import Path

from bricksml.errors import BricksmlError, ExitCode, first_line


def test_the_first_line_of_a_message_or_the_type_when_it_says_nothing() -> None:
    assert first_line(ValueError("  bad value\n  at line 3\n")) == "bad value"
    assert first_line(KeyError()) == "KeyError"
    assert first_line(OSError("x" * 300), limit=200) == "x" * 197 + "..."
    assert first_line(OSError("short"), limit=200) == "short"


def test_the_readme_exit_code_table_is_the_exit_code_enum() -> None:
    table = Path(__file__).parents[1].joinpath("README.md").read_text()
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert documented == {int(code) for code in ExitCode}


def test_every_user_error_has_one_of_the_codes_and_none_is_a_value_error() -> None:
    def subclasses(cls: type) -> list[type]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    user_errors = subclasses(BricksmlError)
    assert len(user_errors) >= 15
    for error in user_errors:
        assert isinstance(error.exit_code, ExitCode), error
        assert error.exit_code not in (ExitCode.OK, ExitCode.INTERNAL), error
        assert not issubclass(error, ValueError), error
