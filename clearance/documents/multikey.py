"""Ed25519 keys as Multikey values (``publicKeyMultibase`` ``z6Mk…``) and as ``did:key`` identifiers."""

from __future__ import annotations

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# Multicodec prefixes (varint) of Multikey values: ed25519-pub 0xed, ed25519-priv 0x1300.
_ED25519_PUB = b"\xed\x01"
_ED25519_PRIV = b"\x80\x26"


class CredentialError(Exception):
    """A value that is not what this module reads (a Multikey, a clearance credential)."""


def multikey_public(public_key: Ed25519PublicKey) -> str:
    """An Ed25519 public key as a Multikey ``publicKeyMultibase`` (``z6Mk…``)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + base58.b58encode(_ED25519_PUB + raw).decode("ascii")


def _multibase_bytes(value: str, prefix: bytes) -> bytes:
    if not isinstance(value, str) or not value.startswith("z"):
        raise CredentialError("expected a base58-btc multibase value (starting with 'z')")
    try:
        raw = base58.b58decode(value[1:])
    except ValueError as exc:
        raise CredentialError(f"not base58-btc: {exc}") from None
    if not raw.startswith(prefix) or len(raw) != len(prefix) + 32:
        raise CredentialError("not an Ed25519 Multikey")
    return raw[len(prefix) :]


def public_key_from_multikey(value: str) -> Ed25519PublicKey:
    """The Ed25519 public key of a ``publicKeyMultibase``."""
    return Ed25519PublicKey.from_public_bytes(_multibase_bytes(value, _ED25519_PUB))


def private_key_from_multikey(value: str) -> Ed25519PrivateKey:
    """The Ed25519 private key of a ``secretKeyMultibase`` (the 32-byte seed)."""
    return Ed25519PrivateKey.from_private_bytes(_multibase_bytes(value, _ED25519_PRIV))


def did_key(public_key: Ed25519PublicKey) -> str:
    """The ``did:key`` verification method of a public key: ``did:key:<multikey>#<multikey>``."""
    multikey = multikey_public(public_key)
    return f"did:key:{multikey}#{multikey}"


def public_key_from_did_key(method: str) -> Ed25519PublicKey:
    """The public key a ``did:key`` verification method names."""
    if not isinstance(method, str) or not method.startswith("did:key:"):
        raise CredentialError(f"unsupported verificationMethod {method!r}: expected a did:key")
    identifier, _, fragment = method[len("did:key:") :].partition("#")
    if fragment and fragment != identifier:
        raise CredentialError(f"verificationMethod {method!r}: the fragment does not name the key")
    return public_key_from_multikey(identifier)
