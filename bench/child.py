"""The service as the benchmark runs it: a child process, so that its memory and CPU are its own.

``python -m bench.child`` runs exactly what ``clearance run`` runs (settings
from ``CLEARANCE_*``), and reports on its standard output one JSON line per
consumer batch: when the loop got the records from ``poll`` and when it had
committed them. Service logs go to standard error as usual.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from typing import Any

from clearance.cli import load_settings
from clearance.service import Service
from consumers.loop import ConsumerLoop

_out = threading.Lock()


def emit(line: dict[str, Any]) -> None:
    """Write one report line for the benchmark."""
    text = json.dumps(line, separators=(",", ":")) + "\n"
    with _out:
        sys.stdout.write(text)
        sys.stdout.flush()


def _instrument() -> None:
    # Timing from outside the loop: the service code is measured as it is, not changed.
    process = ConsumerLoop.process

    def timed(self: ConsumerLoop, consumer: Any, batch: dict[Any, list[Any]]) -> bool:
        got = time.time()
        stored = process(self, consumer, batch)
        emit({"kind": "batch", "topic": self.topic.value, "t0": got, "t1": time.time(),
              "records": sum(len(r) for r in batch.values()), "stored": stored})  # fmt: skip
        return stored

    ConsumerLoop.process = timed  # type: ignore[method-assign]


def main() -> None:
    """Run the service until SIGTERM, reporting batches on stdout."""
    settings = load_settings()
    _instrument()
    service = Service(settings)
    service.prepare()
    signal.signal(signal.SIGTERM, lambda *_: service.stop_event.set())
    signal.signal(signal.SIGINT, lambda *_: service.stop_event.set())
    service.start()
    emit({"kind": "started", "t": time.time()})
    service.wait()
    service.stop()
    service.close()
    emit({"kind": "stopped", "t": time.time()})


if __name__ == "__main__":
    main()
