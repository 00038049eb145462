"""Progress lines for long work: shown on a terminal, silent in pipes, notebooks' stdout aside."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Prints ``[elapsed] step`` lines to stderr when it is a terminal (or when forced)."""

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = time.perf_counter()

    def step(self, message: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self.start
            print(f"[{elapsed:6.1f}s] {message}", file=self.stream, flush=True)


SILENT = Progress(enabled=False)
