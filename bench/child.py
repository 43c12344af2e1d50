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

import consumers.loop as loop_module
from clearance.bootstrap import create_service
from clearance.observability.logging import configure_logging
from clearance.settings import Settings
from clearance.store.unit_of_work import SqlUnitOfWork
from consumers.loop import ConsumerLoop

_out = threading.Lock()


def emit(line: dict[str, Any]) -> None:
    """Write one report line for the benchmark."""
    text = json.dumps(line, separators=(",", ":")) + "\n"
    with _out:
        sys.stdout.write(text)
        sys.stdout.flush()


_parts = threading.local()


def _timed_part(owner: Any, name: str, label: str) -> None:
    """Wrap ``owner.name`` so that each batch reports the seconds spent in it."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent = getattr(_parts, "spent", None)
            if spent is not None:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - started

    setattr(owner, name, wrapper)


def _instrument() -> None:
    # Timing from outside the loop: the service code is measured as it is, not changed.
    process = ConsumerLoop.process

    def timed(self: ConsumerLoop, consumer: Any, batch: dict[Any, list[Any]]) -> bool:
        got = time.time()
        _parts.spent = {}
        stored = process(self, consumer, batch)
        spent = {k: round(v * 1000, 2) for k, v in _parts.spent.items()}
        _parts.spent = None
        emit({"kind": "batch", "topic": self.topic.value, "t0": got, "t1": time.time(),
              "records": sum(len(r) for r in batch.values()), "stored": stored, "ms": spent})  # fmt: skip
        return stored

    ConsumerLoop.process = timed  # type: ignore[method-assign]
    # Where a batch's time goes: reading the sources' ends, the handler, the commit, the offset commit.
    # The sources' ends are read on a thread of their own while the batch is parsed and folded:
    # "sources_wait" is what the loop still waits for them.
    _timed_part(ConsumerLoop, "_await_sources", "sources_wait")
    _timed_part(loop_module, "handle_batch", "handle")
    _timed_part(SqlUnitOfWork, "commit", "db_commit")
    _timed_part(ConsumerLoop, "_commit", "offset_commit")
    _timed_part(ConsumerLoop, "_decode", "parse")


def main() -> None:
    """Run the service until SIGTERM, reporting batches on stdout."""
    settings = Settings()  # as `clearance run` reads them: CLEARANCE_* from the environment
    configure_logging(settings.log_format, settings.log_level, secrets=settings.secrets())
    _instrument()
    service = create_service(settings)
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
