"""The Verifiable Credential form: eddsa-jcs-2022 against the W3C test vector, and certificates as credentials."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from verification import w3c_vector as w3c

from clearance.documents.credential import (
    add_proof,
    certificate_of,
    hash_data,
    multikey_public,
    private_key_from_multikey,
    public_key_from_multikey,
    sign_credential,
    unsecured_credential,
    verify_credential,
    verify_proof,
)
from clearance.signing.keys import KeyRing
from clearance.verification.offline import verify_json

CERTIFICATE = {
    "number": "BP/2026-2/0000123", "application_id": "APP-2026-2-0001", "student_id": "2019100123",
    "full_name": "Siti Rahmawati", "faculty": "Teknik", "program": "Teknik Sipil", "degree_level": "S1",
    "graduation_period": "2026-2", "issued_at": "2026-11-24T10:00:02+07:00", "issuer": "urn:library:central",
    "basis": {"loans_outstanding": 0, "fines_outstanding": "0", "deposit_id": "DEP-88"},
}  # fmt: skip


# -- the W3C test vector (Data Integrity EdDSA Cryptosuites v1.0, B.3) ---------------------------


def test_the_spec_key_pair_decodes_to_a_matching_pair() -> None:
    private_key = private_key_from_multikey(w3c.SECRET_KEY_MULTIBASE)
    assert multikey_public(private_key.public_key()) == w3c.PUBLIC_KEY_MULTIBASE


def test_hashing_gives_the_spec_hashes() -> None:
    combined = hash_data(w3c.UNSECURED, w3c.PROOF_OPTIONS)
    assert combined.hex() == w3c.COMBINED_HASH
    assert combined[:32].hex() == w3c.PROOF_OPTIONS_HASH
    assert combined[32:].hex() == w3c.DOCUMENT_HASH


def test_signing_the_spec_credential_gives_the_published_proof() -> None:
    private_key = private_key_from_multikey(w3c.SECRET_KEY_MULTIBASE)
    signed = add_proof(w3c.UNSECURED, private_key, verification_method=w3c.VERIFICATION_METHOD, created=w3c.CREATED)
    assert signed["proof"]["proofValue"] == w3c.PROOF_VALUE
    assert signed == w3c.SIGNED


def test_the_spec_signed_credential_verifies() -> None:
    public_key = public_key_from_multikey(w3c.PUBLIC_KEY_MULTIBASE)
    assert verify_proof(w3c.SIGNED, public_key) == (True, "valid")


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["credentialSubject"].update(alumniOf="The School of Forgeries"),
        lambda c: c.update(validFrom="2022-01-01T00:00:00Z"),
        lambda c: c["proof"].update(created="2023-02-24T23:36:39Z"),
        lambda c: c.update({"@context": list(reversed(c["@context"]))}),
        lambda c: c["proof"].update(proofValue=c["proof"]["proofValue"][:-3] + "abc"),
        lambda c: c["proof"].update(cryptosuite="eddsa-rdfc-2022"),
    ],
    ids=["subject", "validFrom", "created", "context order", "proofValue", "cryptosuite"],
)
def test_a_changed_spec_credential_fails(change) -> None:
    forged = copy.deepcopy(w3c.SIGNED)
    change(forged)
    valid, _reason = verify_proof(forged, public_key_from_multikey(w3c.PUBLIC_KEY_MULTIBASE))
    assert not valid


# -- certificates as credentials -----------------------------------------------------------------


@pytest.fixture
def ring(tmp_path) -> KeyRing:
    ring = KeyRing(tmp_path / "keys")
    ring.signing_key(create=True)
    return ring


@pytest.fixture
def credential(ring: KeyRing) -> dict:
    unsecured = unsecured_credential(CERTIFICATE, issuer_name="Perpustakaan Pusat")
    return sign_credential(unsecured, ring.signing_key(), datetime(2026, 11, 25, 8, 0, tzinfo=UTC))


def test_a_certificate_credential_is_a_vc_2_0_with_a_data_integrity_proof(credential, ring) -> None:
    assert credential["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert credential["type"] == ["VerifiableCredential", "LibraryClearanceCredential"]
    assert credential["validFrom"] == CERTIFICATE["issued_at"]
    proof = credential["proof"]
    assert (proof["type"], proof["cryptosuite"], proof["proofPurpose"]) == (
        "DataIntegrityProof", "eddsa-jcs-2022", "assertionMethod",
    )  # fmt: skip
    assert proof["created"] == "2026-11-25T08:00:00Z"
    assert proof["verificationMethod"].startswith("did:key:z6Mk")


def test_a_certificate_credential_verifies_against_the_jwk_set(credential, ring) -> None:
    assert verify_credential(credential, ring.jwks()) == (True, "valid", ring.current_id())


def test_a_certificate_credential_carries_the_certificate_unchanged(credential) -> None:
    assert certificate_of(credential) == CERTIFICATE


@pytest.mark.parametrize("field", sorted(set(CERTIFICATE) - {"issued_at", "issuer", "basis"}))
def test_a_changed_subject_field_fails(credential, ring, field: str) -> None:
    forged = copy.deepcopy(credential)
    forged["credentialSubject"][field] += "X"
    valid, reason, _key = verify_credential(forged, ring.jwks())
    assert (valid, reason) == (False, "proofValue does not match the credential")


def test_a_credential_signed_by_a_key_outside_the_jwk_set_is_refused(credential, tmp_path) -> None:
    other = KeyRing(tmp_path / "other")
    other.signing_key(create=True)
    valid, reason, key_id = verify_credential(credential, other.jwks())
    assert not valid and key_id is None
    assert reason.startswith("unknown key: did:key:z6Mk")


def test_a_credential_re_signed_by_a_stranger_with_its_own_did_key_is_refused(credential, ring, tmp_path) -> None:
    # did:key names its own key: trusting it alone would let anyone sign a certificate.
    stranger = KeyRing(tmp_path / "stranger").signing_key(create=True)
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    forged = sign_credential(unsecured, stranger, datetime.now(UTC))
    valid, reason, _key = verify_credential(forged, ring.jwks())
    assert not valid and reason.startswith("unknown key")


def test_clearance_verify_reads_the_credential_form(credential, ring) -> None:
    verdict = verify_json(json.dumps(credential), ring.jwks())
    assert (verdict.valid, verdict.form, verdict.certificate) == (True, "credential", CERTIFICATE)
