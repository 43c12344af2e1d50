"""Exponential back-off with full jitter, for waiting out a database or broker outage."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(slots=True)
class Backoff:
    """Delays that double from ``initial`` up to ``maximum``, jittered so instances do not stampede."""

    initial: float = 0.5
    maximum: float = 30.0
    attempts: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * (2**self.attempts))
        self.attempts += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempts = 0
