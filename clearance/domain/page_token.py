"""The verification token: an unguessable value that opens a certificate's public page.

It is printed in the certificate's QR code and stored with the certificate, never
signed into it (the wire contract does not change). Without it the page of a
certificate number reveals nothing, so sequential numbers cannot be walked to
harvest students' names.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import quote, urlencode

# 32 random bytes: 256 bits, far beyond guessing over HTTP.
_TOKEN_BYTES = 32
# A token of some other, never-issued value to compare against when the number is unknown,
# so that an unknown number and a wrong token take the same path.
_DECOY = secrets.token_urlsafe(_TOKEN_BYTES)
MAX_TOKEN_LENGTH = 128


def new_verification_token() -> str:
    """A fresh token (URL-safe base64, 43 characters)."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Whether ``given`` is ``expected``, compared in constant time; a missing value never matches."""
    reference = (expected or _DECOY).encode("utf-8")
    candidate = given if given is not None and len(given) <= MAX_TOKEN_LENGTH else ""
    same = hmac.compare_digest(reference, candidate.encode("utf-8", "replace"))
    return same and bool(expected) and bool(given)


def page_path(number: str) -> str:
    """The path of a certificate's page (the number percent-encoded, its slashes kept)."""
    return "/c/" + quote(number, safe="/")


def page_url(base_url: str, number: str, token: str) -> str:
    """The verification page of a certificate, with its token: what the QR code holds."""
    return base_url.rstrip("/") + page_path(number) + "?" + urlencode({"t": token})

def token_sha256(token: str) -> str:
    """The SHA-256 (hex) of a page token, as the register stores it."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
