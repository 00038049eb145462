"""Move ``champion`` back: to the champion before it (by default) or to a version named.

"The champion before it" is the one the gate judged the current champion against when it
promoted it (``champion_version`` in its ``gate_record``), so rolling back twice walks back the
promotions. The move is recorded on both versions (``rollback_record``: from, to, why, who, when)
the way the gate records its decisions: the record first (``state: pending``), then the alias,
then ``state: done``, under the model's lock. Whatever serves ``@champion`` follows: a local
``bricksml serve`` within its poll interval, a Databricks endpoint through the deploy step.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from dataclasses import dataclass
from typing import Any

from bricksml.errors import BricksmlError, RegistryError
from bricksml.tracking import registry
from bricksml.tracking.registry import CHAMPION

ROLLBACK_RECORD = "rollback_record"
#: A tag value holds at most 1000 characters: the reason is cut to leave room for the rest.
_REASON_MAX = 400


@dataclass
class RollbackResult:
    """The move of ``champion`` (``moved`` is False when the version asked already was champion)."""

    model_name: str
    from_version: str
    to_version: str
    chosen: str  # "previous champion" | "asked"
    moved: bool
    reason: str
    by: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def previous_champion(name: str, number: str) -> str | None:
    """The champion ``number`` was judged against when the gate promoted it, if any was."""
    tags = registry.version(name, number).tags or {}
    try:
        before = json.loads(tags.get(registry.GATE_RECORD) or "{}").get("champion_version")
    except (ValueError, AttributeError):
        return None
    return str(before) if before not in (None, "", number, str(number)) else None


def rollback(
    name: str, to_version: str | int | None = None, reason: str = "", by: str | None = None
) -> RollbackResult:
    """Move ``champion`` of ``name`` to ``to_version`` (default: the previous champion) and record it."""
    by = by or _user()
    with registry.model_lock(name):
        current = registry.aliases(name).get(CHAMPION)
        if current is None:
            raise RegistryError(f"model {name} has no champion to roll back (no version holds @champion)")
        if to_version is None:
            target = previous_champion(name, current)
            if target is None:
                raise BricksmlError(
                    f"model {name}: champion v{current} has no previous champion on record (it was the first"
                    " one, or its gate did not compare it with one); name the version with --to-version N"
                )
            chosen = "previous champion"
        else:
            target, chosen = str(to_version).strip(), "asked"
            if not target.isdigit():
                raise BricksmlError(f"--to-version {to_version!r}: a version number such as 3")
            target = str(int(target))
        version = registry.version(name, target)  # one line naming the versions that exist
        at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        record = {
            "from_version": current,
            "to_version": target,
            "chosen": chosen,
            "reason": reason[:_REASON_MAX],
            "by": by,
            "at": at,
        }
        result = RollbackResult(name, current, target, chosen, target != current, record["reason"], by, at)
        if target == current:
            return result
        status = registry.run_status(version.run_id)
        if status != "FINISHED":
            raise BricksmlError(
                f"model {name} v{target}: its training run is {status}, not FINISHED; such a version is never"
                " champion, name another one with --to-version"
            )
        for state in ("pending", "done"):
            text = json.dumps({**record, "state": state})
            for number in (current, target):
                registry.tag_version(name, number, {ROLLBACK_RECORD: text})
            if state == "pending":
                registry.set_alias(name, CHAMPION, target)
    return result


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
