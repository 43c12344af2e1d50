"""The certificate as a W3C Verifiable Credential 2.0, secured with ``eddsa-jcs-2022``.

The proof follows "Data Integrity EdDSA Cryptosuites v1.0" (W3C Recommendation,
§3.3): the proof configuration (the proof without ``proofValue``, carrying the
document's ``@context``) and the unsecured document are each put in RFC 8785
(JCS) canonical form and hashed with SHA-256; Ed25519 signs the proof
configuration's hash followed by the document's hash; ``proofValue`` is the
signature in base58-btc multibase (``z…``).

The ``issuer`` is the library's ``did:web`` (:mod:`clearance.documents.did`)
and the ``verificationMethod`` one of the keys its DID document lists under
``assertionMethod``: a verifier resolves the issuer and trusts only those keys,
so a credential signed with any other key (a stranger's ``did:key`` above all)
fails. Each credential carries a ``credentialStatus`` entry of the issuer's
Bitstring Status List (:mod:`clearance.documents.status_list`), where its
revocation shows.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import base58
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from clearance.documents.did import assertion_key, key_id_of, method_id
from clearance.documents.multikey import (  # noqa: F401 (re-exported: the credential's vocabulary)
    CredentialError,
    did_key,
    multikey_public,
    private_key_from_multikey,
    public_key_from_did_key,
    public_key_from_multikey,
)
from clearance.signing.keys import SigningKey

CONTEXT_V2 = "https://www.w3.org/ns/credentials/v2"
PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
CREDENTIAL_TYPE = "LibraryClearanceCredential"
SUBJECT_TYPE = "LibraryClearance"
ASSERTION = "assertionMethod"

# The field of the certificate that the credential carries outside its subject (as validFrom).
_OUTSIDE_SUBJECT = ("issued_at",)


# -- eddsa-jcs-2022 (Data Integrity EdDSA Cryptosuites v1.0, §3.3) ---------------


def _timestamp(value: Any) -> None:
    # §3.3.5: ``created`` must be an XML Schema dateTimeStamp (a date-time with its offset).
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise CredentialError(f"proof 'created' {value!r} is not a date-time with an offset")


def hash_data(unsecured: Mapping[str, Any], proof_config: Mapping[str, Any]) -> bytes:
    """SHA-256 of the canonical proof configuration, then SHA-256 of the canonical document (§3.3.4)."""
    return hashlib.sha256(rfc8785.dumps(proof_config)).digest() + hashlib.sha256(rfc8785.dumps(unsecured)).digest()


def add_proof(
    unsecured: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    *,
    verification_method: str,
    created: str,
    proof_purpose: str = ASSERTION,
) -> dict[str, Any]:
    """The document secured with an ``eddsa-jcs-2022`` ``DataIntegrityProof`` (§3.3.1)."""
    _timestamp(created)
    config: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in unsecured:
        config["@context"] = unsecured["@context"]
    signature = private_key.sign(hash_data(unsecured, config))
    return {**unsecured, "proof": {**config, "proofValue": "z" + base58.b58encode(signature).decode("ascii")}}


def verify_proof(secured: Mapping[str, Any], public_key: Ed25519PublicKey) -> tuple[bool, str]:
    """Check a document's ``eddsa-jcs-2022`` proof with ``public_key`` (§3.3.2); returns (valid, why)."""
    proof = secured.get("proof")
    if not isinstance(proof, dict):
        return False, "the credential has no single proof object"
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        return False, f"unsupported proof {proof.get('type')!r} / {proof.get('cryptosuite')!r}"
    unsecured = {k: v for k, v in secured.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in options:
        # §3.3.2 step 4: the document's context must begin with the proof's, in order.
        context, proof_context = secured.get("@context"), options["@context"]
        wanted = proof_context if isinstance(proof_context, list) else [proof_context]
        have = context if isinstance(context, list) else [context]
        if have[: len(wanted)] != wanted:
            return False, "the document's @context does not begin with the proof's @context"
        unsecured["@context"] = proof_context
    try:
        if "created" in options:
            _timestamp(options["created"])
        signature = _proof_bytes(proof.get("proofValue"))
        public_key.verify(signature, hash_data(unsecured, options))
    except CredentialError as exc:
        return False, str(exc)
    except rfc8785.CanonicalizationError as exc:
        return False, f"the credential has no canonical form: {exc}"
    except InvalidSignature:
        return False, "proofValue does not match the credential"
    return True, "valid"


def _proof_bytes(value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("z"):
        raise CredentialError("proofValue is not a base58-btc multibase value")
    try:
        return base58.b58decode(value[1:])
    except ValueError as exc:
        raise CredentialError(f"proofValue is not base58-btc: {exc}") from None


# -- the clearance certificate as a credential ------------------------------------


def credential_id(issuer: str, number: str) -> str:
    """A stable URL identifying the credential of a certificate number."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{issuer}#certificate={number}')}"


def unsecured_credential(
    certificate: Mapping[str, Any], *, issuer_did: str, issuer_name: str, status: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The certificate (SPEC §4.4 ``certificate``) as an unsecured Verifiable Credential 2.0 of ``issuer_did``.

    Every field of the certificate but ``issued_at`` (the ``validFrom``) is in
    the subject under its contract name, ``issuer`` included; ``status`` is the
    credential's ``credentialStatus`` entry.
    """
    subject = {"type": SUBJECT_TYPE}
    subject.update({k: v for k, v in certificate.items() if k not in _OUTSIDE_SUBJECT})
    credential = {
        "@context": [CONTEXT_V2],
        "id": credential_id(certificate["issuer"], certificate["number"]),
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "name": "Surat Keterangan Bebas Pustaka (Library Clearance Certificate)",
        "description": "The student has no outstanding loans or unpaid fines at any library of the university "
        "and has deposited the final work, which the library accepted.",
        "issuer": {"id": issuer_did, "name": issuer_name},
        "validFrom": certificate["issued_at"],
        "credentialSubject": subject,
    }
    if status is not None:
        credential["credentialStatus"] = dict(status)
    return credential


def issuer_of(secured: Mapping[str, Any]) -> str | None:
    """The issuer id of a credential (``issuer`` or ``issuer.id``)."""
    issuer = secured.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    return issuer_id if isinstance(issuer_id, str) else None


def sign_credential(unsecured: Mapping[str, Any], key: SigningKey, created: datetime) -> dict[str, Any]:
    """Secure a credential with ``key``, named as a key of the issuer's DID document, at time ``created``."""
    issuer = issuer_of(unsecured)
    if issuer is None:
        raise CredentialError("the credential has no issuer to name its key under")
    stamp = created.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    return add_proof(unsecured, key.private_key, verification_method=method_id(issuer, key.key_id), created=stamp)


def certificate_of(secured: Mapping[str, Any]) -> dict[str, Any]:
    """The certificate object a clearance credential carries (raises :class:`CredentialError`)."""
    context = secured.get("@context")
    if not isinstance(context, list) or not context or context[0] != CONTEXT_V2:
        raise CredentialError(f"not a Verifiable Credential 2.0: @context must begin with {CONTEXT_V2}")
    types = secured.get("type")
    if not isinstance(types, list) or CREDENTIAL_TYPE not in types:
        raise CredentialError(f"not a library clearance credential: type lacks {CREDENTIAL_TYPE!r}")
    subject, issuer_id = secured.get("credentialSubject"), issuer_of(secured)
    if not isinstance(subject, dict) or subject.get("type") != SUBJECT_TYPE:
        raise CredentialError(f"credentialSubject is not a {SUBJECT_TYPE!r}")
    if issuer_id is None or not isinstance(secured.get("validFrom"), str):
        raise CredentialError("the credential lacks its issuer or validFrom")
    certificate = {k: v for k, v in subject.items() if k not in ("type", "id")}
    certificate["issued_at"] = secured["validFrom"]
    return certificate


def verify_credential(secured: Mapping[str, Any], issuer_document: Mapping[str, Any]) -> tuple[bool, str, str | None]:
    """Check a clearance credential against its issuer's DID document; returns (valid, why, key_id).

    The issuer must be the DID the document describes, and the proof's
    ``verificationMethod`` one of that document's ``assertionMethod`` keys.
    """
    proof = secured.get("proof")
    if not isinstance(proof, dict):
        return False, "the credential has no single proof object", None
    if proof.get("proofPurpose") != ASSERTION:
        return False, f"proofPurpose {proof.get('proofPurpose')!r} is not {ASSERTION!r}", None
    issuer = issuer_of(secured)
    if issuer != issuer_document.get("id"):
        return False, f"issuer {issuer!r} is not {issuer_document.get('id')!r}", None
    method = proof.get("verificationMethod")
    try:
        public_key = assertion_key(issuer_document, method)
    except (CredentialError, ValueError) as exc:
        return False, str(exc), None
    valid, reason = verify_proof(secured, public_key)
    return valid, reason, key_id_of(str(method))
