"""Revocation as a W3C Bitstring Status List (Bitstring Status List v1.0).

Each credential's ``credentialStatus`` is a ``BitstringStatusListEntry`` naming
a list (``statusListCredential``) and its place in it (``statusListIndex``).
The list is itself a credential (``BitstringStatusListCredential``) signed like
the certificates: its ``encodedList`` is the bitstring GZIP-compressed and
base64url-encoded (no padding) with the multibase prefix ``u``; bit 0 is the
most significant bit of the first byte, and a set bit means revoked.
"""

from __future__ import annotations

import base64
import gzip
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from clearance.documents.credential import CONTEXT_V2, CredentialError, issuer_of, verify_credential

PURPOSE = "revocation"
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
LIST_TYPE = "BitstringStatusList"
MIN_BITS = 16 * 1024 * 8
# A decompressed list larger than this is refused (a small GZIP member can expand enormously).
MAX_BITS = 16 * 1024 * 1024 * 8


def list_url(base_url: str, list_number: int) -> str:
    """The URL of status list ``list_number`` served under ``base_url``."""
    return f"{base_url.rstrip('/')}/status/{list_number}"


def place(index: int, bits: int) -> tuple[int, int]:
    """The list number and the index within it of a certificate's status index."""
    return divmod(index, bits)


def status_entry(base_url: str, index: int, bits: int) -> dict[str, str]:
    """The ``credentialStatus`` of the certificate with status index ``index``."""
    list_number, position = place(index, bits)
    url = list_url(base_url, list_number)
    return {
        "id": f"{url}#{position}",
        "type": ENTRY_TYPE,
        "statusPurpose": PURPOSE,
        "statusListIndex": str(position),
        "statusListCredential": url,
    }


def encode(revoked: Iterable[int], bits: int) -> str:
    """The ``encodedList`` of a bitstring of ``bits`` bits with the positions in ``revoked`` set."""
    if bits < MIN_BITS or bits % 8:
        raise ValueError(f"a status list has at least {MIN_BITS} bits, a whole number of bytes")
    raw = bytearray(bits // 8)
    for position in revoked:
        raw[position // 8] |= 0x80 >> (position % 8)
    compressed = gzip.compress(bytes(raw), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode(encoded: Any) -> bytes:
    """The bitstring of an ``encodedList`` (raises :class:`CredentialError`)."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise CredentialError("encodedList is not a base64url multibase value (prefix 'u')")
    try:
        compressed = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        raw = inflater.decompress(compressed, MAX_BITS // 8 + 1)
    except (ValueError, zlib.error) as exc:
        raise CredentialError(f"encodedList is not GZIP-compressed base64url: {exc}") from None
    if len(raw) > MAX_BITS // 8 or inflater.unconsumed_tail:
        raise CredentialError("encodedList expands beyond any status list this verifier reads")
    if len(raw) * 8 < MIN_BITS:
        raise CredentialError(f"the status list has {len(raw) * 8} bits, fewer than the {MIN_BITS} required")
    return raw


def is_set(bitstring: bytes, position: int) -> bool:
    """Whether bit ``position`` (0 = most significant bit of the first byte) is set."""
    return bool(bitstring[position // 8] & (0x80 >> (position % 8)))


def unsecured_status_list(
    url: str, *, issuer_did: str, issuer_name: str, revoked: Iterable[int], bits: int, valid_from: str
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` at ``url`` with the positions in ``revoked`` set."""
    return {
        "@context": [CONTEXT_V2],
        "id": url,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": {"id": issuer_did, "name": issuer_name},
        "validFrom": valid_from,
        "credentialSubject": {
            "id": f"{url}#list",
            "type": LIST_TYPE,
            "statusPurpose": PURPOSE,
            "encodedList": encode(revoked, bits),
        },
    }


def check_status(
    credential: Mapping[str, Any], status_list: Mapping[str, Any], issuer_document: Mapping[str, Any]
) -> tuple[bool, str]:
    """Whether a credential is revoked by ``status_list``: (revoked, why); raises CredentialError when unreadable.

    The list must be the one the credential's entry names, of the same issuer,
    signed with one of the issuer's assertion keys.
    """
    entry = credential.get("credentialStatus")
    if not isinstance(entry, dict) or entry.get("type") != ENTRY_TYPE or entry.get("statusPurpose") != PURPOSE:
        raise CredentialError("the credential has no BitstringStatusListEntry for revocation")
    index = entry.get("statusListIndex")
    if not isinstance(index, str) or not index.isdigit() or len(index) > 12:
        raise CredentialError(f"statusListIndex {index!r} is not a decimal index")
    if status_list.get("id") != entry.get("statusListCredential"):
        raise CredentialError(
            f"the status list given is {status_list.get('id')!r}, not {entry.get('statusListCredential')!r}"
        )
    types = status_list.get("type")
    if not isinstance(types, list) or LIST_CREDENTIAL_TYPE not in types:
        raise CredentialError(f"the status list is not a {LIST_CREDENTIAL_TYPE}")
    if issuer_of(status_list) != issuer_of(credential):
        raise CredentialError("the status list has another issuer than the credential")
    valid, reason, _key = verify_credential(status_list, issuer_document)
    if not valid:
        raise CredentialError(f"the status list's proof does not hold: {reason}")
    subject = status_list.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("statusPurpose") != PURPOSE:
        raise CredentialError("the status list is not a revocation list")
    bitstring = decode(subject.get("encodedList"))
    position = int(index)
    if position >= len(bitstring) * 8:
        raise CredentialError(f"statusListIndex {position} lies beyond the status list")
    if is_set(bitstring, position):
        return True, f"revoked (status list {status_list['id']}, index {position})"
    return False, "not revoked"
