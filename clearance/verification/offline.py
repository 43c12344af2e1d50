"""Offline verification of a presented certificate against a JWK Set.

A certificate may be presented in three forms: the ``data`` of a
``clearance.certificate.issued`` event (``certificate`` and ``proof``), the
whole CloudEvent, or the W3C Verifiable Credential form
(:mod:`clearance.documents.credential`), checked against its issuer's DID
document. Input that is none of these is *unreadable*; a readable certificate
whose proof does not hold is *invalid*.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import rfc8785

from clearance.documents import credential
from clearance.documents.did import did_document
from clearance.signing.keys import verify

Form = Literal["certificate", "cloudevent", "credential"]
ISSUED_TYPE = "clearance.certificate.issued"


class UnreadableCertificate(Exception):
    """The input is not JSON, or not a certificate in any of the accepted forms."""


class MalformedJson(UnreadableCertificate):
    """The input is not strict JSON (UTF-8, no duplicate fields, no NaN, finite numbers, no lone surrogates)."""


# No certificate field is a number this long; Python would refuse past 4300 digits anyway.
_MAX_NUMBER_CHARACTERS = 40


@dataclass(frozen=True, slots=True)
class Presented:
    """A certificate as presented: its content, and the proof that should cover it."""

    form: Form
    certificate: dict[str, Any]
    # The issued event's data for the certificate forms; the whole secured credential for the VC form.
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a presented certificate's proof holds against a JWK Set, and why."""

    valid: bool
    reason: str
    form: Form
    certificate: dict[str, Any]
    key_id: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "reason": self.reason,
            "form": self.form,
            "key_id": self.key_id,
            "certificate": self.certificate,
        }


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two values for one field would let two readers see two different certificates.
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise MalformedJson(f"duplicate field {key!r}")
        found[key] = value
    return found


def _refuse_constant(name: str) -> Any:
    raise MalformedJson(f"{name} is not JSON")


def _parse_float(text: str) -> float:
    if len(text) > _MAX_NUMBER_CHARACTERS:
        raise MalformedJson(f"number {text[:20]}… is too long")
    value = float(text)
    if not math.isfinite(value):
        raise MalformedJson(f"number {text} is out of range")
    return value


def _parse_int(text: str) -> int:
    if len(text) > _MAX_NUMBER_CHARACTERS:
        raise MalformedJson(f"number {text[:20]}… is too long")
    return int(text)


def _refuse_lone_surrogates(value: Any) -> None:
    # json.loads joins escaped surrogate pairs; a surrogate left in a string is half a character.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and any("\ud800" <= c <= "\udfff" for c in item):
            raise MalformedJson("a string holds a lone surrogate (\\uD800-\\uDFFF), which is no character")


def parse_json(raw: bytes | str) -> Any:
    """Strict JSON: UTF-8, no duplicate field names, finite numbers of at most 40 characters, no lone surrogates."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant,
            parse_float=_parse_float, parse_int=_parse_int,
        )  # fmt: skip
        _refuse_lone_surrogates(value)
        return value
    except UnicodeDecodeError as exc:
        raise MalformedJson(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise MalformedJson("not JSON: nested too deeply") from None


def read_presented(value: Any) -> Presented:
    """Recognise the form of a parsed JSON value; raise :class:`UnreadableCertificate` if it has none."""
    if not isinstance(value, dict):
        raise UnreadableCertificate("expected a JSON object")
    if "specversion" in value:
        event_type = value.get("type")
        if event_type != ISSUED_TYPE:
            raise UnreadableCertificate(f"a CloudEvent of type {event_type!r} is not a {ISSUED_TYPE} event")
        data = value.get("data")
        if not isinstance(data, dict):
            raise UnreadableCertificate("the CloudEvent has no data object")
        return _issued(data, "cloudevent")
    if "@context" in value:
        try:
            subject = credential.certificate_of(value)
        except credential.CredentialError as exc:
            raise UnreadableCertificate(str(exc)) from None
        return Presented("credential", subject, value)
    return _issued(value, "certificate")


def _issued(data: dict[str, Any], form: Form) -> Presented:
    certificate, proof = data.get("certificate"), data.get("proof")
    if not isinstance(certificate, dict) or not isinstance(proof, dict):
        raise UnreadableCertificate("expected a 'certificate' object and its 'proof' object")
    return Presented(form, certificate, data)


def verify_presented(
    presented: Presented, jwks: Mapping[str, Any], issuer_document: Mapping[str, Any] | None = None
) -> Verdict:
    """Check the proof of a presented certificate against the public keys in ``jwks``.

    A credential is checked against ``issuer_document`` (its issuer's DID
    document) when given, else against a DID document of its issuer listing
    exactly the keys of ``jwks``.
    """
    if presented.form == "credential":
        if issuer_document is None:
            issuer_document = did_document(credential.issuer_of(presented.document) or "", jwks)
        valid, reason, key_id = credential.verify_credential(presented.document, issuer_document)
        return Verdict(valid, reason, presented.form, presented.certificate, key_id)
    proof = presented.document["proof"]
    key_id = proof.get("key_id") if isinstance(proof.get("key_id"), str) else None
    try:
        valid, reason = verify(presented.certificate, proof, jwks)
    except rfc8785.CanonicalizationError as exc:
        valid, reason = False, f"the certificate has no canonical form: {exc}"
    return Verdict(valid, reason, presented.form, presented.certificate, key_id)


def verify_json(raw: bytes | str, jwks: Mapping[str, Any], issuer_document: Mapping[str, Any] | None = None) -> Verdict:
    """Parse, recognise and verify in one step (raises :class:`UnreadableCertificate`)."""
    return verify_presented(read_presented(parse_json(raw)), jwks, issuer_document)


def same_certificate(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two certificate objects have the same canonical form."""
    try:
        return rfc8785.dumps(a) == rfc8785.dumps(b)
    except rfc8785.CanonicalizationError:
        return False
