"""Seconds per kind of work in a job, so that a run can say what its time went to."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Timer:
    """Adds up wall time per label; ``with timer("mlflow"): ...`` can be entered many times."""

    seconds: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @contextmanager
    def __call__(self, what: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - start

    def stop(self) -> dict[str, float]:
        """The totals so far, with ``total``: the wall time since the timer was made."""
        self.seconds["total"] = time.perf_counter() - self.started
        return self.seconds
