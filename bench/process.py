"""The service under test, in a child process: start it, follow its batch reports, read its memory, stop it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


def proc_status_kb(pid: int, field_name: str) -> int | None:
    """A ``/proc/<pid>/status`` memory field (VmRSS, VmHWM) in kB; None when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class TopicProgress:
    """What the service reported for one inbound topic."""

    records: int = 0
    batches: int = 0
    first_t0: float | None = None
    last_t1: float | None = None
    busy_seconds: float = 0.0


@dataclass
class ServiceProcess:
    """``python -m bench.child`` with the given ``CLEARANCE_*`` environment."""

    env: dict[str, str]
    log_path: Path
    progress: dict[str, TopicProgress] = field(default_factory=dict)
    rss_samples: list[tuple[float, int]] = field(default_factory=list)

    def start(self) -> ServiceProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")}
        env.update(self.env)
        self._log: IO[bytes] = open(self.log_path, "ab")
        # The child's batch reports, kept for a closer look at a run (one JSON line per batch).
        self._reports: IO[str] = open(self.log_path.with_suffix(".batches.jsonl"), "a")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "bench.child"], stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL,
            env=env, text=True, bufsize=1,
        )  # fmt: skip
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._started = False
        self._stop_sampling = threading.Event()
        self._follower = threading.Thread(target=self._follow, name="bench-child-reports", daemon=True)
        self._follower.start()
        threading.Thread(target=self._sample, name="bench-child-rss", daemon=True).start()
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _follow(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            try:
                report: dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            self._reports.write(line)
            with self._changed:
                if report.get("kind") == "started":
                    self._started = True
                elif report.get("kind") == "batch" and report.get("stored"):
                    p = self.progress.setdefault(report["topic"], TopicProgress())
                    p.records += report["records"]
                    p.batches += 1
                    p.first_t0 = report["t0"] if p.first_t0 is None else min(p.first_t0, report["t0"])
                    p.last_t1 = report["t1"] if p.last_t1 is None else max(p.last_t1, report["t1"])
                    p.busy_seconds += report["t1"] - report["t0"]
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _sample(self) -> None:
        while not self._stop_sampling.wait(0.25):
            rss = proc_status_kb(self.pid, "VmRSS")
            if rss is None:
                return
            self.rss_samples.append((time.time(), rss))

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_started(self, timeout: float) -> None:
        """Wait until the service has started its loops (topics made, schema migrated)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._started:
                if not self.alive():
                    raise RuntimeError(f"the service exited with {self.popen.returncode}; see {self.log_path}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the service did not start within {timeout}s; see {self.log_path}")
                self._changed.wait(0.5)

    def wait_records(self, topic: str, count: int, timeout: float, on_progress: Any = None) -> TopicProgress:
        """Wait until the service has committed ``count`` records of ``topic``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                p = self.progress.get(topic, TopicProgress())
                if on_progress is not None:
                    on_progress(p.records)
                if p.records >= count:
                    return p
                if not self.alive():
                    raise RuntimeError(f"the service exited with {self.popen.returncode}; see {self.log_path}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{topic}: {p.records}/{count} records applied after {timeout}s")
                self._changed.wait(0.5)

    def snapshot(self, topic: str) -> TopicProgress:
        with self._lock:
            p = self.progress.get(topic, TopicProgress())
            return TopicProgress(p.records, p.batches, p.first_t0, p.last_t1, p.busy_seconds)

    def rss_kb(self) -> int | None:
        return proc_status_kb(self.pid, "VmRSS")

    def peak_rss_kb(self) -> int | None:
        """The high-water mark of the child's resident set (VmHWM)."""
        return proc_status_kb(self.pid, "VmHWM")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, as an operator stops it: batches finish, the relay drains. Returns the exit code."""
        self._stop_sampling.set()
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._follower.join(10)
        self._log.close()
        self._reports.close()
        return int(self.popen.returncode)
