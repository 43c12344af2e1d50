"""The doorbell between the workers that write the outbox and the relay that publishes it.

A consumer loop rings it after a commit that wrote outbox rows, so the relay
reads them at once instead of at its next idle poll (``relay_idle_seconds``).
The poll stays: rows another instance wrote ring no bell here.
"""

from __future__ import annotations

import threading


class Doorbell:
    """A wake-up for one waiter: a ring while nobody waits is kept until the next wait."""

    def __init__(self) -> None:
        self._rung = threading.Event()

    def ring(self) -> None:
        """Say that rows were committed."""
        self._rung.set()

    def wait(self, timeout: float) -> bool:
        """Wait until rung or ``timeout`` seconds pass; return whether it was rung. Either way it is quiet again.

        The caller reads after this returns, so a ring that lands between the wake-up and the
        reset only announces rows that read will see.
        """
        rung = self._rung.wait(timeout)
        self._rung.clear()
        return rung
