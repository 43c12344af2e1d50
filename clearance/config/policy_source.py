"""The policy in force: read from its file, re-read when the file changes (SPEC §5)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import structlog

from clearance.config.policy_file import load_policy
from clearance.domain.policy import Policy, PolicyError

log = structlog.get_logger("clearance.service")


class PolicySource:
    """The current policy; re-read when its file changes, so a change applies to later evaluations."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._mtime = self._stat()
        self._policy = load_policy(path)
        self._lock = threading.Lock()

    def _stat(self) -> float | None:
        return os.stat(self.path).st_mtime if self.path is not None else None

    def __call__(self) -> Policy:
        if self.path is None:
            return self._policy
        with self._lock:
            try:
                mtime = self._stat()
                if mtime != self._mtime:
                    self._policy = load_policy(self.path)
                    self._mtime = mtime
                    log.info("policy_reloaded", path=str(self.path), policy=self._policy.digest)
            except (OSError, PolicyError) as exc:
                # Keep deciding with the last good policy rather than stopping the stream.
                log.error("policy_reload_failed", path=str(self.path), error=str(exc))
            return self._policy
