"""predict(verbose=...) progress on stderr: tqdm when installed (``kerasless[progress]``), a plain line otherwise.
Imported only when verbose is set, so the cold-start path never pays for it."""

from __future__ import annotations

import sys
import time

from .errors import InputError


class Progress:
    """``steps`` chunks of work; ``update(1)`` after each. verbose: 1 / "auto" a bar, 2 one line when done."""

    def __init__(self, steps: int, verbose, stream=None):
        if verbose not in (0, 1, 2, "auto", True, False):
            raise InputError(f"predict: verbose should be 0, 1, 2 or 'auto' (Keras's values), got {verbose!r}")
        self.steps, self.done, self.stream = steps, 0, stream or sys.stderr
        self.bar = verbose in (1, "auto", True)
        self.start = time.perf_counter()
        self.tqdm = None
        if self.bar:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.tqdm = tqdm(total=steps, file=self.stream, unit="step", desc="predict", leave=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.tqdm is not None:
            self.tqdm.update(n)
            if self.done >= self.steps:
                self.tqdm.close()
            return
        last = self.done >= self.steps
        if self.bar or last:
            self.stream.write(("\r" if self.bar else "") + self.line() + ("\n" if last else ""))
            self.stream.flush()

    def line(self) -> str:
        """Keras's look: ``3/4 ━━━━━━━━━━━━━━━─────  0s 12ms/step``."""
        elapsed = time.perf_counter() - self.start
        filled = round(20 * self.done / max(self.steps, 1))
        per = 1000 * elapsed / max(self.done, 1)
        width = len(str(self.steps))
        return f"{self.done:>{width}}/{self.steps} {'━' * filled}{'─' * (20 - filled)} {elapsed:.0f}s {per:.0f}ms/step"
