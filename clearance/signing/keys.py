"""Ed25519 signing keys with ids, and signatures over JCS canonical JSON (G8).

Keys live in a directory, one PEM-encoded PKCS#8 private key per key id
(``<key_id>.pem``), written owner-only. The file ``current`` names the key
that signs; every other key stays available for verification, so rotating
keeps old certificates verifiable. Only files the service's own user owns, with
no group or other access and not through a symlink, are read
(:mod:`clearance.signing.keyfiles`); each key is read once and again only when
its file changes, and a file that cannot be used is skipped and logged.
"""

from __future__ import annotations

import base64
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from clearance.signing.canonical import canonical
from clearance.signing.keyfiles import FileIdentity, UnsafeKeyFile, check_directory, identity, read_private

log = structlog.get_logger("clearance.signing")

ALGORITHM = "Ed25519"
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def is_key_id(text: str) -> bool:
    """Whether ``text`` is a well-formed key id (letters, digits, ``._-``, at most 64)."""
    return _KEY_ID.match(text) is not None


class KeyRingError(Exception):
    """A key directory or JWK Set that cannot be used."""


def b64url(raw: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key and its id."""

    key_id: str
    private_key: Ed25519PrivateKey

    def sign(self, document: Mapping[str, Any]) -> dict[str, str]:
        """The ``proof`` object of SPEC §4.4 for ``document``."""
        signature = self.private_key.sign(canonical(document))
        return {"alg": ALGORITHM, "key_id": self.key_id, "signature": b64url(signature)}

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()


def public_jwk(key_id: str, public_key: Ed25519PublicKey) -> dict[str, str]:
    """A public key as a JWK (RFC 8037): ``kty`` OKP, ``crv`` Ed25519."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "kid": key_id, "x": b64url(raw), "use": "sig", "alg": "EdDSA"}


class KeyRing:
    """The signing keys in a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._loaded: dict[str, tuple[FileIdentity, SigningKey]] = {}
        self._skipped: dict[str, FileIdentity | None] = {}
        self._lock = threading.Lock()

    def _paths(self) -> dict[str, Path]:
        if not self.directory.is_dir():
            return {}
        return {p.stem: p for p in sorted(self.directory.glob("*.pem")) if _KEY_ID.match(p.stem)}

    def key_ids(self) -> list[str]:
        """Every key id in the directory, oldest first by name."""
        return list(self._paths())

    def load(self, key_id: str) -> SigningKey:
        """The key ``key_id``, read again only when its file changed (raises :class:`KeyRingError`)."""
        path = self._paths().get(key_id)
        if path is None:
            raise KeyRingError(f"no key {key_id!r} in {self.directory}")
        with self._lock:
            cached = self._loaded.get(key_id)
            if cached is not None and cached[0] == identity(path):
                return cached[1]
            try:
                content, version = read_private(path)
                key = serialization.load_pem_private_key(content, password=None)
            except UnsafeKeyFile as exc:
                raise KeyRingError(f"refused {path}: {exc}") from None
            except (ValueError, TypeError, UnsupportedAlgorithm):
                raise KeyRingError(f"{path} is not a PEM-encoded PKCS#8 private key") from None
            if not isinstance(key, Ed25519PrivateKey):
                raise KeyRingError(f"{path} is not an Ed25519 private key")
            signing = SigningKey(key_id=key_id, private_key=key)
            self._loaded[key_id] = (version, signing)
            return signing

    def check_permissions(self) -> None:
        """Refuse a key directory, key file or ``current`` marker that is not the service user's alone.

        The directory and each file must be owned by the user the process runs
        as, with no group or other access; a symlink is refused.
        """
        try:
            check_directory(self.directory)
        except UnsafeKeyFile as exc:
            raise KeyRingError(str(exc)) from None
        candidates = list(self._paths().values())
        marker = self.directory / "current"
        if os.path.lexists(marker):
            candidates.append(marker)
        problems = []
        for path in candidates:
            try:
                read_private(path)
            except UnsafeKeyFile as exc:
                problems.append(str(exc))
        if problems:
            raise KeyRingError(
                f"signing keys readable by others or not the service's own in {self.directory}: "
                f"{'; '.join(problems)}; run: chmod 600 {self.directory}/*.pem, and remove any file "
                "another user put there"
            )

    def current_id(self) -> str | None:
        marker = self.directory / "current"
        if os.path.lexists(marker):
            try:
                content, _ = read_private(marker)
            except UnsafeKeyFile as exc:
                raise KeyRingError(f"refused {marker}: {exc}") from None
            key_id = content.decode("utf-8", "replace").strip()
            if key_id in self._paths():
                return key_id
        # No marker: the newest key by name that is usable, so a file planted under a later name is not taken.
        ids = self.key_ids()
        usable = [k for k in ids if k in self.public_keys()] if ids else []
        return usable[-1] if usable else (ids[-1] if ids else None)

    def generate(self, key_id: str | None = None) -> SigningKey:
        """Create a new key, make it the signing key and return it."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key_id = key_id or self._next_id()
        if not _KEY_ID.match(key_id) or key_id in self._paths():
            raise KeyRingError(f"cannot create key {key_id!r}")
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path = self.directory / f"{key_id}.pem"
        # Written whole under a name no reader looks at, then linked into place: another
        # instance sees either no key or the whole key, never a half-written one, and a
        # link to a name that exists fails (two instances never overwrite each other's key).
        tmp = self._write_temporary(pem)
        try:
            os.link(tmp, path)
        finally:
            tmp.unlink()
        self._write_current(key_id)
        return SigningKey(key_id=key_id, private_key=key)

    def _write_temporary(self, content: bytes) -> Path:
        fd, name = tempfile.mkstemp(prefix=".tmp-", dir=self.directory)  # mode 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        return Path(name)

    def _write_current(self, key_id: str) -> None:
        tmp = self._write_temporary((key_id + "\n").encode())
        tmp.replace(self.directory / "current")

    def _next_id(self) -> str:
        year = datetime.now(UTC).year
        n = 1
        while f"{year}-{n}" in self._paths():
            n += 1
        return f"{year}-{n}"

    def signing_key(self, create: bool = True) -> SigningKey:
        """The current signing key, generated on first use when ``create``."""
        key_id = self.current_id()
        if key_id is None:
            if not create:
                raise KeyRingError(f"no signing key in {self.directory}")
            try:
                return self.generate()
            except (FileExistsError, KeyRingError):
                # Another instance created the first key between our look and our write: use that one.
                key_id = self.current_id()
                if key_id is None:
                    raise
        return self.load(key_id)

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """The public key of every usable key file; a file that cannot be used is skipped and logged once."""
        found: dict[str, Ed25519PublicKey] = {}
        for key_id, path in self._paths().items():
            try:
                found[key_id] = self.load(key_id).public_key
                self._skipped.pop(key_id, None)
            except KeyRingError as exc:
                version = identity(path)
                if key_id not in self._skipped or self._skipped[key_id] != version:
                    self._skipped[key_id] = version
                    log.error("signing_key_file_skipped", key_id=key_id, error=str(exc)[:300])
        return found

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public keys of the usable key files as a JWK Set."""
        return {"keys": [public_jwk(k, key) for k, key in self.public_keys().items()]}


def verify(document: Mapping[str, Any], proof: Mapping[str, Any], jwks: Mapping[str, Any]) -> tuple[bool, str]:
    """Check ``proof`` over ``document`` against a JWK Set; returns (valid, why)."""
    if proof.get("alg") != ALGORITHM:
        return False, f"unsupported algorithm {proof.get('alg')!r}"
    key_id = proof.get("key_id")
    jwk = next((k for k in jwks.get("keys", []) if k.get("kid") == key_id), None)
    if jwk is None:
        return False, f"unknown key_id {key_id!r}"
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        return False, f"key {key_id!r} is not an Ed25519 key"
    try:
        public_key = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
        signature = b64url_decode(str(proof.get("signature", "")))
        public_key.verify(signature, canonical(document))
    except InvalidSignature:
        return False, "signature does not match the certificate"
    except (ValueError, KeyError, TypeError) as exc:
        return False, f"malformed key or signature: {exc}"
    return True, "valid"
