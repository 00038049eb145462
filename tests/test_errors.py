"""The one way an exception becomes the one line a user reads."""

from __future__ import annotations

from bricksml.errors import first_line


def test_the_first_line_of_a_message_or_the_type_when_it_says_nothing() -> None:
    assert first_line(ValueError("  bad value\n  at line 3\n")) == "bad value"
    assert first_line(KeyError()) == "KeyError"
    assert first_line(OSError("x" * 300), limit=200) == "x" * 197 + "..."
    assert first_line(OSError("short"), limit=200) == "short"
