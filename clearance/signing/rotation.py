"""Rotating and retiring signing keys in ``CLEARANCE_KEY_DIR``.

Rotation makes a new key the signing key; earlier keys stay in the directory
and in the JWK Set, so the certificates they signed stay verifiable. Retiring
a key withdraws it from the JWK Set (for a key that is compromised or past its
time): certificates it signed then fail verification with an unknown
``key_id``. A retired key's file moves to ``retired/`` inside the key
directory, still owner-only, so that nothing private leaves the directory and
its id is never handed out again. A running service picks the new signing key
up through the ``current`` marker; it needs no restart.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from clearance.signing.keys import KeyRing, KeyRingError, SigningKey, is_key_id

RETIRED = "retired"


def retired_dir(ring: KeyRing) -> Path:
    """Where retired keys are kept."""
    return ring.directory / RETIRED


def retired_ids(ring: KeyRing) -> list[str]:
    """Ids of the retired keys."""
    folder = retired_dir(ring)
    return sorted(p.stem for p in folder.glob("*.pem")) if folder.is_dir() else []


def _next_id(ring: KeyRing, now: datetime) -> str:
    taken = set(ring.key_ids()) | set(retired_ids(ring))
    n = 1
    while f"{now.year}-{n}" in taken:
        n += 1
    return f"{now.year}-{n}"


def rotate(ring: KeyRing, key_id: str | None = None, now: datetime | None = None) -> SigningKey:
    """Create a new key (``<year>-<n>`` unless ``key_id`` is given) and make it the signing key."""
    ring.check_permissions()
    key_id = key_id or _next_id(ring, now or datetime.now(UTC))
    if key_id in retired_ids(ring):
        raise KeyRingError(f"key id {key_id!r} was retired and is not used again")
    return ring.generate(key_id)


def retire(ring: KeyRing, key_id: str) -> Path:
    """Withdraw a key from the JWK Set; refuses the signing key (rotate first). Returns its new path."""
    if not is_key_id(key_id) or key_id not in ring.key_ids():
        raise KeyRingError(f"no key {key_id!r} in {ring.directory}")
    if key_id == ring.current_id():
        raise KeyRingError(f"{key_id!r} is the signing key: run `clearance keys rotate` first")
    folder = retired_dir(ring)
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    target = folder / f"{key_id}.pem"
    # A rename within the directory: the private key is never copied anywhere.
    (ring.directory / f"{key_id}.pem").replace(target)
    return target
