"""Typed job parameter contracts: one per job, parsed from strings once, with clear errors.

A contract is a frozen dataclass whose fields are declared with :func:`param`. The job YAML, the
notebook and the CLI flags are all derived from (and tested against) the same fields.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NoReturn, TypeVar

from bricksml.errors import ParameterError

KINDS = ("str", "int", "float", "bool", "json", "list")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
#: Longest name: a name becomes a folder (255 bytes at most on common file systems) and part of
#: the names of temporary folders and registry entries, which add their own characters.
NAME_MAX = 128
#: A refused value longer than this is quoted cut, with its length: the message stays one readable line.
_SHOWN_MAX = 60
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}

C = TypeVar("C", bound="Contract")


def param(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    kind: str = "str",
    choices: tuple[str, ...] | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """Declare a contract field: its kind, default, allowed values and a one-line help."""
    if kind not in KINDS:
        raise ValueError(f"unknown parameter kind {kind!r}")
    metadata = {"help": help, "kind": kind, "choices": choices, "check": check}
    if isinstance(default, (dict, list)):
        frozen = json.loads(json.dumps(default))
        return dataclasses.field(default_factory=lambda: json.loads(json.dumps(frozen)), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def name_check(value: str | None) -> str | None:
    """Names that become folders or registry names: letters, digits, '_', '-', '.'; no '..'; short
    enough for a file system (:data:`NAME_MAX` characters)."""
    if value is None:
        return None
    if not _NAME_RE.match(value) or ".." in value:
        return "made of letters, digits, '_', '-' and '.' (not starting with '.', no '..')"
    if len(value) > NAME_MAX:
        return f"at most {NAME_MAX} characters long (it names a folder), not {len(value)}"
    return None


def fraction_check(value: float) -> str | None:
    return None if 0.0 < value < 1.0 else "a number strictly between 0 and 1"


@dataclasses.dataclass(frozen=True)
class Contract:
    """Base of every job's parameter object; subclasses are frozen dataclasses of :func:`param`."""

    job: ClassVar[str] = "a job"

    @classmethod
    def fields(cls) -> tuple[dataclasses.Field, ...]:
        return tuple(f for f in dataclasses.fields(cls) if "kind" in f.metadata)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in cls.fields()]

    @classmethod
    def required(cls) -> list[str]:
        return [f.name for f in cls.fields() if _default_of(f) is dataclasses.MISSING]

    @classmethod
    def default_strings(cls) -> dict[str, str]:
        """Each parameter's default as the string a widget or a job parameter would hold."""
        out = {}
        for f in cls.fields():
            default = _default_of(f)
            out[f.name] = "" if default is dataclasses.MISSING else to_string(default)
        return out

    @classmethod
    def parse(cls: type[C], raw: Mapping[str, Any]) -> C:
        """Parse and validate raw values (strings from widgets or flags, or typed values).

        Empty strings and ``None`` mean "use the default". Unknown names are refused.
        """
        known = {f.name: f for f in cls.fields()}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ParameterError(
                unknown[0], cls.job, f"one of: {', '.join(known)}", "unknown parameter"
            ) from None
        values = {}
        for name, f in known.items():
            value = raw.get(name)
            if value is None or (isinstance(value, str) and value.strip() == ""):
                default = _default_of(f)
                if default is dataclasses.MISSING:
                    raise ParameterError(name, cls.job, "given (it has no default)", value or "")
                values[name] = default
                continue
            values[name] = _parse_value(cls.job, f, value)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in self.fields()}

    def to_strings(self) -> dict[str, str]:
        return {name: to_string(value) for name, value in self.to_dict().items()}

    def fail(self, name: str, expected: str, got: object) -> NoReturn:
        """Raise the contract's error for one parameter (for cross-field checks)."""
        raise ParameterError(name, self.job, expected, got)


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def to_string(value: Any) -> str:
    """The string form of a parameter value, as it travels through widgets and job parameters."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def _parse_value(owner: str, f: dataclasses.Field, value: Any) -> Any:
    kind, name = f.metadata["kind"], f.name
    text = value.strip() if isinstance(value, str) else value
    try:
        if kind == "str":
            parsed: Any = str(text)
        elif kind == "int":
            if isinstance(text, bool) or (isinstance(text, float) and not text.is_integer()):
                raise ValueError
            parsed = int(text)
        elif kind == "float":
            if isinstance(text, bool):
                raise ValueError
            parsed = float(text)
            if not math.isfinite(parsed):
                raise ValueError
        elif kind == "bool":
            if isinstance(text, bool):
                parsed = text
            elif str(text).lower() in _TRUE:
                parsed = True
            elif str(text).lower() in _FALSE:
                parsed = False
            else:
                raise ValueError
        elif kind == "json":
            parsed = json.loads(text) if isinstance(text, str) else text
            if not isinstance(parsed, dict):
                raise ValueError
        else:  # list: comma-separated names
            items = text if isinstance(text, (list, tuple)) else str(text).split(",")
            parsed = tuple(str(item).strip() for item in items if str(item).strip())
    except (ValueError, TypeError):
        expected = {
            "str": "a string",
            "int": "a whole number",
            "float": "a number",
            "bool": "true or false",
            "json": 'a JSON object such as {"C": 1.0}',
            "list": "comma-separated names",
        }[kind]
        raise ParameterError(name, owner, expected, value) from None
    choices = f.metadata["choices"]
    if choices and parsed not in choices:
        raise ParameterError(name, owner, f"one of {', '.join(choices)}", value)
    check = f.metadata["check"]
    if check is not None:
        problem = check(parsed)
        if problem:
            raise ParameterError(name, owner, problem, _Shown(value))
    return parsed


class _Shown:
    """A refused value as the message quotes it: its repr, cut when long (a 300-character name)."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __repr__(self) -> str:
        text = repr(self.value)
        if len(text) <= _SHOWN_MAX:
            return text
        return f"{text[: _SHOWN_MAX - 5]}...{text[-1]} ({len(str(self.value))} characters)"
