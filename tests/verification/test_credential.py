"""The Verifiable Credential form: eddsa-jcs-2022 against the W3C test vector, and certificates as credentials."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import re
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from verification import w3c_vector as w3c

from clearance.documents.credential import (
    CredentialError,
    add_proof,
    certificate_of,
    did_key,
    hash_data,
    multikey_public,
    private_key_from_multikey,
    public_key_from_multikey,
    sign_credential,
    unsecured_credential,
    verify_credential,
    verify_proof,
)
from clearance.documents.did import did_document, did_document_path, did_document_url, did_web
from clearance.documents.status_list import check_status, decode, encode, status_entry, unsecured_status_list
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


ISSUER_DID = "did:web:library.example.ac.id"
BASE_URL = "https://library.example.ac.id"
BITS = 131_072


@pytest.fixture
def credential(ring: KeyRing) -> dict:
    unsecured = unsecured_credential(
        CERTIFICATE, issuer_did=ISSUER_DID, issuer_name="Perpustakaan Pusat", status=status_entry(BASE_URL, 7, BITS)
    )
    return sign_credential(unsecured, ring.signing_key(), datetime(2026, 11, 25, 8, 0, tzinfo=UTC))


@pytest.fixture
def issuer_document(ring: KeyRing) -> dict:
    return did_document(ISSUER_DID, ring.jwks())


def test_a_certificate_credential_is_a_vc_2_0_with_a_data_integrity_proof(credential, ring) -> None:
    assert credential["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert credential["type"] == ["VerifiableCredential", "LibraryClearanceCredential"]
    assert credential["validFrom"] == CERTIFICATE["issued_at"]
    assert credential["issuer"] == {"id": ISSUER_DID, "name": "Perpustakaan Pusat"}
    proof = credential["proof"]
    assert (proof["type"], proof["cryptosuite"], proof["proofPurpose"]) == (
        "DataIntegrityProof", "eddsa-jcs-2022", "assertionMethod",
    )  # fmt: skip
    assert proof["created"] == "2026-11-25T08:00:00Z"
    assert proof["verificationMethod"] == f"{ISSUER_DID}#{ring.current_id()}"


def test_a_certificate_credential_carries_a_bitstring_status_list_entry(credential) -> None:
    assert credential["credentialStatus"] == {
        "id": f"{BASE_URL}/status/0#7", "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
        "statusListIndex": "7", "statusListCredential": f"{BASE_URL}/status/0",
    }  # fmt: skip


def test_a_certificate_credential_verifies_against_its_issuers_did_document(credential, ring, issuer_document) -> None:
    assert verify_credential(credential, issuer_document) == (True, "valid", ring.current_id())


def test_the_did_document_lists_every_key_as_a_multikey_assertion_method(ring, issuer_document) -> None:
    key = ring.signing_key()
    method = f"{ISSUER_DID}#{key.key_id}"
    assert issuer_document["assertionMethod"] == [method]
    assert issuer_document["verificationMethod"] == [{
        "id": method, "type": "Multikey", "controller": ISSUER_DID,
        "publicKeyMultibase": multikey_public(key.public_key),
    }]  # fmt: skip


def test_a_certificate_credential_carries_the_certificate_unchanged(credential) -> None:
    assert certificate_of(credential) == CERTIFICATE


@pytest.mark.parametrize("field", sorted(set(CERTIFICATE) - {"issued_at", "basis"}))
def test_a_changed_subject_field_fails(credential, issuer_document, field: str) -> None:
    forged = copy.deepcopy(credential)
    forged["credentialSubject"][field] += "X"
    valid, reason, _key = verify_credential(forged, issuer_document)
    assert (valid, reason) == (False, "proofValue does not match the credential")


def test_a_credential_signed_by_a_key_outside_the_did_document_is_refused(credential, tmp_path) -> None:
    other = KeyRing(tmp_path / "other")
    other.generate("9999-1")
    valid, reason, key_id = verify_credential(credential, did_document(ISSUER_DID, other.jwks()))
    assert not valid and key_id is None
    assert "is not an assertionMethod of did:web:library.example.ac.id" in reason


def test_a_credential_whose_key_id_the_issuer_gave_another_key_fails(credential, tmp_path) -> None:
    other = KeyRing(tmp_path / "other")
    other.signing_key(create=True)  # the same id as the signing key, another key
    valid, reason, _key = verify_credential(credential, did_document(ISSUER_DID, other.jwks()))
    assert (valid, reason) == (False, "proofValue does not match the credential")


def test_a_credential_minted_with_a_fresh_did_key_and_the_same_issuer_fails(credential, issuer_document) -> None:
    # did:key names its own key: the generic proof check passes, but it is none of the issuer's keys.
    stranger = Ed25519PrivateKey.generate()
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    forged = add_proof(unsecured, stranger, verification_method=did_key(stranger.public_key()),
                       created="2026-11-25T08:00:00Z")  # fmt: skip
    assert verify_proof(forged, stranger.public_key()) == (True, "valid")
    valid, reason, _key = verify_credential(forged, issuer_document)
    assert not valid
    assert reason.startswith("verificationMethod 'did:key:z6Mk") and "is not a key of the issuer" in reason
    verdict = verify_json(json.dumps(forged), {"keys": []}, issuer_document)
    assert not verdict.valid


def test_a_credential_naming_another_issuer_than_the_did_document_fails(credential, ring, issuer_document) -> None:
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    unsecured["issuer"] = {"id": "did:web:evil.example", "name": "Perpustakaan Pusat"}
    forged = sign_credential(unsecured, ring.signing_key(), datetime.now(UTC))
    valid, reason, _key = verify_credential(forged, issuer_document)
    assert (valid, reason) == (False, "issuer 'did:web:evil.example' is not 'did:web:library.example.ac.id'")


def test_clearance_verify_reads_the_credential_form(credential, ring) -> None:
    verdict = verify_json(json.dumps(credential), ring.jwks())
    assert (verdict.valid, verdict.form, verdict.certificate) == (True, "credential", CERTIFICATE)


# -- did:web ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "did", "path"),
    [
        ("https://library.example.ac.id", "did:web:library.example.ac.id", "/.well-known/did.json"),
        ("https://Library.Example.ac.id/", "did:web:library.example.ac.id", "/.well-known/did.json"),
        (
            "https://example.ac.id/perpustakaan/verify",
            "did:web:example.ac.id:perpustakaan:verify",
            "/perpustakaan/verify/did.json",
        ),
        ("https://library.example.ac.id:8443", "did:web:library.example.ac.id%3A8443", "/.well-known/did.json"),
    ],
    ids=["host", "case and slash", "path", "port"],
)
def test_the_issuer_did_is_the_did_web_of_the_base_url(base_url: str, did: str, path: str) -> None:
    assert did_web(base_url) == did
    assert did_document_path(base_url) == path
    assert did_document_url(did) == "https://" + did.split(":")[2].replace("%3A", ":") + path


# -- the status list -------------------------------------------------------------------------------


def _status_list(ring: KeyRing, revoked: list[int]) -> dict:
    unsigned = unsecured_status_list(f"{BASE_URL}/status/0", issuer_did=ISSUER_DID, issuer_name="Perpustakaan",
                                     revoked=revoked, bits=BITS, valid_from="2026-11-26T00:00:00Z")  # fmt: skip
    return sign_credential(unsigned, ring.signing_key(), datetime(2026, 11, 26, tzinfo=UTC))


def test_the_encoded_list_is_a_gzip_base64url_multibase_bitstring_of_16_kib() -> None:
    encoded = encode([0, 7, 9], BITS)
    assert encoded.startswith("u") and "=" not in encoded
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) == 16 * 1024
    assert raw[:2] == bytes([0b1000_0001, 0b0100_0000])  # bit 0 is the first byte's most significant bit
    assert decode(encoded) == raw


def test_a_status_list_shorter_than_16_kib_is_refused() -> None:
    short = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(1024))).rstrip(b"=").decode()
    with pytest.raises(CredentialError, match="fewer than"):
        decode(short)


def test_a_revoked_credential_is_revoked_by_the_signed_status_list(credential, ring, issuer_document) -> None:
    assert check_status(credential, _status_list(ring, [7]), issuer_document)[0] is True
    assert check_status(credential, _status_list(ring, [6, 8]), issuer_document) == (False, "not revoked")


def test_a_status_list_signed_by_another_key_counts_for_nothing(credential, ring, issuer_document, tmp_path) -> None:
    stranger = KeyRing(tmp_path / "stranger")
    stranger.signing_key(create=True)
    with pytest.raises(CredentialError, match="proof does not hold"):
        check_status(credential, _status_list(stranger, []), issuer_document)


def test_a_status_list_other_than_the_one_the_entry_names_is_refused(credential, ring, issuer_document) -> None:
    other = _status_list(ring, [])
    other["id"] = f"{BASE_URL}/status/1"
    with pytest.raises(CredentialError, match=re.escape("not 'https://library.example.ac.id/status/0'")):
        check_status(credential, other, issuer_document)
