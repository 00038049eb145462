"""Follow a registered model's alias: when it moves, load the new version aside and swap it in.

The registry has no notification an MLflow client can subscribe to (locally a SQLite file, on
Databricks Unity Catalog), so the follower polls: one alias lookup every ``poll_seconds`` (a
millisecond-scale query on the local store). A new version is loaded and warmed up in this
thread while the old one keeps answering; the swap is one reference assignment, so a request
in flight finishes on the version it started with and none waits for the load.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from bricksml.errors import first_line
from bricksml.inference.model import resolve_ref
from bricksml.serving import served
from bricksml.serving.served import ServedModel
from bricksml.tracking import registry
from bricksml.tracking.model_refs import VersionRef

log = logging.getLogger(__name__)


@dataclass
class Holder:
    """The version being served; replaced whole, never changed in place."""

    model: ServedModel


@dataclass
class Swap:
    """One alias move the server followed."""

    from_version: str
    to_version: str
    seen_after_seconds: float  # from the poll that saw the move to the new version serving
    at: float = field(default_factory=time.time)


class AliasFollower:
    """A daemon thread that keeps ``holder`` on the version ``name@alias`` points at."""

    def __init__(self, holder: Holder, name: str, alias: str, poll_seconds: float) -> None:
        self.holder, self.name, self.alias, self.poll_seconds = holder, name, alias, poll_seconds
        self.swaps: list[Swap] = []
        self.error: str | None = None
        self.last_poll: float | None = None
        self._failed: str | None = None  # a version that would not load: not retried until it moves
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"follow-{alias}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def status(self) -> dict[str, object]:
        return {
            "alias": self.alias,
            "poll_seconds": self.poll_seconds,
            "last_poll": self.last_poll,
            "swaps": len(self.swaps),
            "error": self.error,
        }

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.check()

    def check(self) -> None:
        """One poll: swap in the alias's version when it is another one than the one serving."""
        started = time.perf_counter()
        self.last_poll = time.time()
        current = self.holder.model
        try:
            found = registry.version_by_alias(self.name, self.alias)
        except Exception as exc:  # a registry hiccup: keep serving, ask again at the next poll
            self._problem(f"the registry did not answer ({type(exc).__name__}: {first_line(exc, limit=200)})")
            return
        if found is None:
            self._problem(f"@{self.alias} points at no version")
            return
        number = str(found.version)
        if number == current.version:
            self.error = None
            return
        if number == self._failed:
            return
        try:
            loaded = served.load(resolve_ref(VersionRef(self.name, number)))
        except Exception as exc:  # a version that cannot be served: keep the one that can
            self._failed = number
            self._problem(f"v{number} did not load ({type(exc).__name__}: {first_line(exc, limit=200)})")
            return
        self.holder.model = loaded
        self._failed, self.error = None, None
        swap = Swap(current.version, loaded.version, round(time.perf_counter() - started, 3))
        self.swaps.append(swap)
        log.warning(
            "%s@%s moved: now serving v%s (was v%s; loaded in %.2f s)",
            self.name,
            self.alias,
            loaded.version,
            current.version,
            swap.seen_after_seconds,
        )

    def _problem(self, what: str) -> None:
        error = f"{what}; still serving v{self.holder.model.version}"
        if error != self.error:  # said once, not at every poll
            log.warning("%s@%s: %s", self.name, self.alias, error)
        self.error = error
