"""The issuer as a ``did:web`` DID, and its DID document listing the signing keys under ``assertionMethod``.

did:web (W3C CCG "did:web Method Specification"): the host of the base URL,
a port percent-encoded (``%3A``), each path segment after it colon-separated;
the document lives at ``https://<host>/.well-known/did.json`` for a bare host
and at ``https://<host>/<path>/did.json`` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from clearance.documents.multikey import CredentialError, multikey_public, public_key_from_multikey
from clearance.signing.keys import b64url_decode

DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"


def did_web(base_url: str) -> str:
    """The did:web of a base URL.

    ``https://library.example.ac.id:8443/verify`` -> ``did:web:library.example.ac.id%3A8443:verify``.
    """
    parts = urlsplit(base_url)
    if not parts.hostname:
        raise CredentialError(f"{base_url!r} has no host to make a did:web of")
    host = parts.hostname.lower()
    if parts.port is not None:
        host += quote(f":{parts.port}", safe="")
    segments = [quote(unquote(s), safe="") for s in parts.path.split("/") if s]
    return ":".join(["did:web", host, *segments])


def did_document_path(base_url: str) -> str:
    """The path of the DID document on the host of ``base_url`` (did:web's resolution rule)."""
    path = urlsplit(base_url).path.rstrip("/")
    return f"{path}/did.json" if path else "/.well-known/did.json"


def did_document_url(did: str) -> str:
    """Where a did:web's DID document is fetched from (https, as did:web prescribes)."""
    if not did.startswith("did:web:"):
        raise CredentialError(f"{did!r} is not a did:web")
    host, *segments = did[len("did:web:") :].split(":")
    base = "https://" + unquote(host)
    return base + ("/" + "/".join(unquote(s) for s in segments) + "/did.json" if segments else "/.well-known/did.json")


def method_id(did: str, key_id: str) -> str:
    """The verification method id of a key in the issuer's DID document."""
    return f"{did}#{key_id}"


def did_document(did: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The DID document of ``did``: every key of the JWK Set as a Multikey under ``assertionMethod``."""
    methods = []
    for jwk in jwks.get("keys", []):
        public_key = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
        methods.append({
            "id": method_id(did, jwk["kid"]), "type": "Multikey", "controller": did,
            "publicKeyMultibase": multikey_public(public_key),
        })  # fmt: skip
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
    }


def assertion_key(document: Mapping[str, Any], method: Any) -> Ed25519PublicKey:
    """The public key of ``method`` if the DID document lists it under ``assertionMethod``, else CredentialError."""
    did = document.get("id")
    if not isinstance(method, str) or not isinstance(did, str) or not method.startswith(did + "#"):
        raise CredentialError(f"verificationMethod {method!r} is not a key of the issuer {did!r}")
    listed = document.get("assertionMethod")
    if not isinstance(listed, list):
        raise CredentialError(f"the DID document of {did} has no assertionMethod")
    for entry in listed:
        if entry == method or (isinstance(entry, dict) and entry.get("id") == method):
            break
    else:
        raise CredentialError(f"verificationMethod {method!r} is not an assertionMethod of {did}")
    candidates = [e for e in listed if isinstance(e, dict)] + list(document.get("verificationMethod") or [])
    for entry in candidates:
        if isinstance(entry, dict) and entry.get("id") == method:
            if entry.get("type") != "Multikey" or entry.get("controller") != did:
                raise CredentialError(f"{method} is not a Multikey the issuer controls")
            return public_key_from_multikey(entry.get("publicKeyMultibase"))
    raise CredentialError(f"the DID document of {did} does not describe {method}")


def key_id_of(method: str) -> str:
    """The key id a verification method of the issuer's DID document names (its fragment)."""
    return method.partition("#")[2]
