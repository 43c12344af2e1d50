"""The signing key in force: loaded once, reloaded when the key directory names another or its file changes."""

from __future__ import annotations

import threading

import structlog

from clearance.signing.keys import KeyRing, KeyRingError, SigningKey

log = structlog.get_logger("clearance.service")


class KeySource:
    """The current signing key, loaded once and reloaded when the key directory's marker changes."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        ring.check_permissions()
        self._key = ring.signing_key(create=True)
        self._lock = threading.Lock()

    def __call__(self) -> SigningKey:
        with self._lock:
            try:
                current = self.ring.current_id()
                if current is not None:
                    # Cheap when nothing changed: the ring reads a key file again only when it changed.
                    key = self.ring.load(current)
                    if key is not self._key:
                        self._key = key
                        log.info("signing_key_changed", key_id=current)
            except (OSError, ValueError, KeyRingError) as exc:
                # A key directory briefly unreadable is the service's fault, not the message's:
                # keep signing with the last good key rather than stop issuing (G10).
                log.error("signing_key_reload_failed", key_id=self._key.key_id, error=str(exc)[:300])
            return self._key
