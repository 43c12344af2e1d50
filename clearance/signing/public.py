"""Public keys only: a JWK Set file, read again when it changes, for a verifier that holds no private key."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from clearance.signing.keys import KeyRing, KeyRingError, b64url_decode, is_key_id

log = structlog.get_logger("clearance.signing")

# Where a verifier gets its JWK Set from: called on every use, cheap when nothing changed.
PublicKeys = Callable[[], dict[str, Any]]
_MAX_JWKS_BYTES = 1024 * 1024


def validate_jwks(value: Any) -> dict[str, Any]:
    """A JWK Set of Ed25519 public keys with ids, or :class:`KeyRingError` (a private ``d`` is refused)."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise KeyRingError("expected a JWK Set: an object with a 'keys' array")
    seen = set()
    for jwk in value["keys"]:
        if not isinstance(jwk, dict):
            raise KeyRingError("every member of 'keys' must be an object")
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not is_key_id(kid) or kid in seen:
            raise KeyRingError(f"key id {kid!r} is missing, malformed or given twice")
        seen.add(kid)
        if "d" in jwk:
            raise KeyRingError(f"key {kid!r} carries its private part ('d'): publish public keys only")
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
            raise KeyRingError(f"key {kid!r} is not an Ed25519 public key (kty OKP, crv Ed25519, x)")
        try:
            raw = b64url_decode(jwk["x"])
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise KeyRingError(f"key {kid!r}: 'x' is not a 32-byte base64url value")
    return value


class JwksFile:
    """A JWK Set file (``clearance keys jwks -o FILE``), read at start and again whenever it changes.

    A change that cannot be read keeps the last good JWK Set in force (logged);
    an unreadable file at start raises :class:`KeyRingError`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._version: tuple[int, int, int] | None = None
        self._jwks = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            status = os.stat(self.path)
            with self.path.open("rb") as handle:
                raw = handle.read(_MAX_JWKS_BYTES + 1)
            if len(raw) > _MAX_JWKS_BYTES:
                raise KeyRingError(f"larger than {_MAX_JWKS_BYTES} bytes")
            jwks = validate_jwks(json.loads(raw))
        except (OSError, ValueError, KeyRingError) as exc:
            raise KeyRingError(f"JWK Set {self.path}: {exc}") from None
        self._version = (status.st_ino, status.st_mtime_ns, status.st_size)
        return jwks

    def __call__(self) -> dict[str, Any]:
        with self._lock:
            try:
                status = os.stat(self.path)
                if (status.st_ino, status.st_mtime_ns, status.st_size) != self._version:
                    self._jwks = self._read()
                    log.info("jwks_file_reloaded", keys=[k["kid"] for k in self._jwks["keys"]])
            except (OSError, KeyRingError) as exc:
                log.error("jwks_file_reload_failed", error=str(exc)[:300])
            return self._jwks


def ring_public_keys(ring: KeyRing) -> PublicKeys:
    """The public keys of a key directory (for a verifier on the signing host, e.g. the demo)."""
    return ring.jwks
