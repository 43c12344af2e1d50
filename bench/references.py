"""The references the service's figures are divided by, each run as a child process on the same broker.

- the raw ceiling (:mod:`bench.ceiling`): read and ``json.loads``, nothing else (informational);
- the bare durable consumer (:mod:`bench.durable`): the throughput reference;
- the bare relay (:mod:`bench.bare_relay`): the latency reference, fed at the service's offered rates.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from bench.latency import rate_key, relay_result
from bench.traffic import OutcomeReader, publish_paced, relayed_application
from bench.workload import Application


def create_topics(bootstrap: str, names: Sequence[str], partitions: int) -> None:
    """Create the references' own topics with the service's partition count (not the broker's default)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        for name in names:
            try:
                admin.create_topics([NewTopic(name, partitions, 1)], validate_only=False)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def _child(args: list[str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout, check=False
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ceiling(bootstrap: str, topic: str, count: int, max_poll: int, timeout: float) -> dict[str, Any]:
    """The raw kafka-python ceiling on ``count`` records of ``topic``."""
    result = _child(["bench.ceiling", bootstrap, topic, str(count), str(max_poll)], timeout)
    return {k: round(v, 3) for k, v in result.items() if k in ("records", "seconds", "per_second")}


def bare_durable(bootstrap: str, topic: str, count: int, max_poll: int, url: str, timeout: float) -> dict[str, Any]:
    """The bare durable consumer on ``count`` records of ``topic``, written into the database ``url``."""
    result = _child(["bench.durable", bootstrap, topic, str(count), str(max_poll), url], timeout)
    return {k: round(v, 3) for k, v in result.items() if k in ("records", "polls", "seconds", "per_second")}


class BareRelay:
    """``python -m bench.bare_relay`` between two topics of its own, until :meth:`stop`."""

    def __init__(self, bootstrap: str, source: str, target: str, max_poll: int, log_path: Path) -> None:
        self.bootstrap, self.source, self.target, self.log_path = bootstrap, source, target, log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "bench.bare_relay", bootstrap, source, target, str(max_poll)],
            stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL, text=True, bufsize=1,
        )  # fmt: skip
        self.lines: list[dict[str, Any]] = []
        self._ready = threading.Event()
        threading.Thread(target=self._follow, name="bench-relay-reports", daemon=True).start()

    def _follow(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            try:
                report = json.loads(line)
            except ValueError:
                continue
            self.lines.append(report)
            if report.get("kind") == "ready":
                self._ready.set()
        self._ready.set()  # exited: wake the waiter, which then sees it

    def wait_ready(self, timeout: float) -> None:
        """Wait until the relay holds its partitions."""
        if not self._ready.wait(timeout) or self.popen.poll() is not None:
            raise RuntimeError(f"the bare relay did not become ready within {timeout}s; see {self.log_path}")

    def measure(self, apps: list[Application], rate: float, timeout: float) -> dict[str, Any]:
        """Publish ``apps`` to the relay's input at ``rate`` per second; latency to its output consumed."""
        reader = OutcomeReader(self.bootstrap, [self.target], relayed_application).start()
        try:
            sent = publish_paced(self.bootstrap, self.source, apps, rate)
            reader.wait_for([a.application_id for a in apps], timeout)
        finally:
            reader.stop()
        return relay_result(apps, sent, reader, rate)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM; return the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._log.close()
        return int(self.popen.returncode)


def bare_relay_at_rates(
    bootstrap: str,
    topics: tuple[str, str],
    max_poll: int,
    phases: Sequence[tuple[float, list[Application]]],
    timeout: float,
    log_path: Path,
    warmup: list[Application],
) -> tuple[dict[str, Any], int]:
    """The bare relay's latency at each (rate, applications) phase, keyed by rate; and the relay's exit code.

    ``warmup`` goes through first, untimed, as it does through the service.
    """
    relay = BareRelay(bootstrap, topics[0], topics[1], max_poll, log_path)
    results: dict[str, Any] = {}
    try:
        relay.wait_ready(120)
        if warmup:
            relay.measure(warmup, 50.0, timeout)
        for rate, apps in phases:
            results[rate_key(rate)] = relay.measure(apps, rate, timeout)
            time.sleep(0.2)
    finally:
        code = relay.stop()
    return results, code
