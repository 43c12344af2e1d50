"""What a credential is checked against: the issuer's DID document and status list, from files or the service.

Offline, a verifier gives the files (``--did-document``, ``--status-list``);
online, the verification service's base URL, from which the DID document
(did:web's location) and the status list the credential names are fetched.
Either way the status list counts only when its own proof holds against the
issuer's DID document.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from clearance.documents.credential import CredentialError
from clearance.documents.did import did_document_path, did_web
from clearance.documents.status_list import check_status
from clearance.signing.keys import KeyRingError
from clearance.signing.public import validate_jwks
from clearance.verification.offline import MalformedJson, Presented, parse_json

_MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # a status list of 16 KiB compresses to far less
_TIMEOUT_SECONDS = 10.0


class TrustError(Exception):
    """A DID document, status list or JWK Set that cannot be read or used."""


@dataclass(frozen=True, slots=True)
class Status:
    """What the status list says of a credential: checked or not, revoked or not, and why."""

    checked: bool
    revoked: bool
    reason: str


def fetch_json(url: str) -> Any:
    """GET a JSON document (http or https only, at most 4 MiB, 10 s)."""
    if not url.startswith(("https://", "http://")):
        raise TrustError(f"{url!r} is not an http(s) URL")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
            raw = response.read(_MAX_DOCUMENT_BYTES + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise TrustError(f"cannot fetch {url}: {getattr(exc, 'reason', exc)}") from None
    if len(raw) > _MAX_DOCUMENT_BYTES:
        raise TrustError(f"{url} is larger than {_MAX_DOCUMENT_BYTES} bytes")
    try:
        return parse_json(raw)
    except MalformedJson as exc:
        raise TrustError(f"{url}: {exc}") from None


def service_jwks(base_url: str) -> dict[str, Any]:
    """The JWK Set the verification service at ``base_url`` publishes."""
    try:
        return validate_jwks(fetch_json(base_url.rstrip("/") + "/.well-known/jwks.json"))
    except KeyRingError as exc:
        raise TrustError(f"the JWK Set of {base_url}: {exc}") from None


def service_did_document(base_url: str) -> dict[str, Any]:
    """The DID document of the service at ``base_url``, which must describe that URL's did:web."""
    parts = urlsplit(base_url)
    document = fetch_json(f"{parts.scheme}://{parts.netloc}{did_document_path(base_url)}")
    try:
        did = did_web(base_url)
    except CredentialError as exc:
        raise TrustError(str(exc)) from None
    return expect_did_document(document, did)


def expect_did_document(document: Any, did: str | None = None) -> dict[str, Any]:
    """A DID document (an object with an ``id``), of ``did`` when given."""
    if not isinstance(document, dict) or not isinstance(document.get("id"), str):
        raise TrustError("not a DID document: expected an object with an 'id'")
    if did is not None and document["id"] != did:
        raise TrustError(f"the DID document describes {document['id']!r}, not {did!r}")
    return document


def credential_status(
    presented: Presented, issuer_document: Mapping[str, Any], status_list: Mapping[str, Any] | None
) -> Status:
    """Check a credential's revocation against ``status_list`` (not checked when there is none)."""
    if presented.form != "credential":
        return Status(False, False, "a certificate outside a credential carries no status entry")
    if status_list is None:
        return Status(False, False, "status not checked: no status list given")
    try:
        revoked, reason = check_status(presented.document, status_list, issuer_document)
    except (CredentialError, ValueError) as exc:
        raise TrustError(f"status list: {exc}") from None
    return Status(True, revoked, reason)


def status_list_url(presented: Presented, base_url: str) -> str | None:
    """The status list a credential names, if it lies under the service's ``base_url``."""
    entry = presented.document.get("credentialStatus") if presented.form == "credential" else None
    url = entry.get("statusListCredential") if isinstance(entry, dict) else None
    if not isinstance(url, str):
        return None
    if not url.startswith(base_url.rstrip("/") + "/"):
        raise TrustError(f"the credential's status list {url} is not under {base_url}")
    return url


def read_document(raw: bytes, what: str) -> Any:
    """A JSON file given on the command line."""
    try:
        return parse_json(raw)
    except MalformedJson as exc:
        raise TrustError(f"{what}: {exc}") from None
