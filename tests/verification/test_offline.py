"""Offline verification (G8): any change to any field of a certificate is caught; only certificates are read."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clearance.domain.certificate import certificate_document, sign_certificate
from clearance.domain.decision import Basis
from clearance.signing.keys import KeyRing
from clearance.verification.offline import MalformedJson, UnreadableCertificate, verify_json

WIB = timezone(timedelta(hours=7))


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    ring = KeyRing(tmp_path / "keys")
    ring.signing_key(create=True)
    return ring


@pytest.fixture
def issued(ring: KeyRing) -> dict[str, Any]:
    document = certificate_document(
        number="BP/2026-2/0000123", application_id="APP-2026-2-0001", student_id="2019100123",
        full_name="Siti Rahmawati", faculty="Teknik", program="Teknik Sipil", degree_level="S1",
        graduation_period="2026-2", issued_at=datetime(2026, 11, 24, 10, 0, 2, tzinfo=WIB),
        issuer="urn:library:central",
        basis=Basis(loans_outstanding=0, fines_outstanding=Decimal(0), deposit_id="DEP-88"),
    )  # fmt: skip
    return sign_certificate(document, ring.signing_key())


# One forgery per field of the certificate: the value a forger would put there.
FORGERIES: dict[str, Any] = {
    "number": "BP/2026-2/0000124",
    "application_id": "APP-2026-2-0002",
    "student_id": "2019100124",
    "full_name": "Sita Rahmawati",
    "faculty": "Kedokteran",
    "program": "Arsitektur",
    "degree_level": "S2",
    "graduation_period": "2027-1",
    "issued_at": "2026-11-24T10:00:03+07:00",
    "issuer": "urn:library:elsewhere",
    "basis.loans_outstanding": 1,
    "basis.fines_outstanding": "15000",
    "basis.deposit_id": "DEP-89",
}


def _leaves(document: dict[str, Any], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for key, value in document.items():
        path = f"{prefix}{key}"
        found |= _leaves(value, path + ".") if isinstance(value, dict) else {path}
    return found


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for parent in parents:
        document = document[parent]
    document[leaf] = value


def _check(issued: dict[str, Any], ring: KeyRing):
    return verify_json(json.dumps(issued), ring.jwks())


def test_the_forgeries_cover_every_field_of_the_certificate(issued) -> None:
    assert set(FORGERIES) == _leaves(issued["certificate"])


def test_an_untouched_certificate_is_valid(issued, ring) -> None:
    verdict = _check(issued, ring)
    assert (verdict.valid, verdict.reason, verdict.key_id) == (True, "valid", ring.current_id())
    assert verdict.certificate["full_name"] == "Siti Rahmawati"


@pytest.mark.parametrize("path", sorted(FORGERIES))
def test_a_changed_field_fails(issued, ring, path: str) -> None:
    forged = copy.deepcopy(issued)
    _set(forged["certificate"], path, FORGERIES[path])
    verdict = _check(forged, ring)
    assert not verdict.valid
    assert verdict.reason == "signature does not match the certificate"


def test_the_same_instant_written_in_another_offset_fails(issued, ring) -> None:
    # The signature covers the text that was signed, not an equivalent moment.
    forged = copy.deepcopy(issued)
    forged["certificate"]["issued_at"] = "2026-11-24T03:00:02+00:00"
    assert not _check(forged, ring).valid


def test_an_added_field_fails(issued, ring) -> None:
    forged = copy.deepcopy(issued)
    forged["certificate"]["honours"] = "cum laude"
    assert not _check(forged, ring).valid


def test_a_removed_field_fails(issued, ring) -> None:
    forged = copy.deepcopy(issued)
    del forged["certificate"]["basis"]["deposit_id"]
    assert not _check(forged, ring).valid


def test_an_unknown_key_id_fails_with_that_reason(issued, ring) -> None:
    forged = copy.deepcopy(issued)
    forged["proof"]["key_id"] = "2099-9"
    verdict = _check(forged, ring)
    assert not verdict.valid
    assert verdict.reason == "unknown key_id '2099-9'"


def test_a_signature_by_a_key_outside_the_jwk_set_fails(issued, tmp_path) -> None:
    stranger = KeyRing(tmp_path / "stranger")
    stranger.generate(issued["proof"]["key_id"])  # same id, different key
    verdict = verify_json(json.dumps(issued), stranger.jwks())
    assert not verdict.valid
    assert verdict.reason == "signature does not match the certificate"


def test_another_algorithm_fails(issued, ring) -> None:
    forged = copy.deepcopy(issued)
    forged["proof"]["alg"] = "none"
    assert _check(forged, ring).reason == "unsupported algorithm 'none'"


def test_a_garbled_signature_fails(issued, ring) -> None:
    forged = copy.deepcopy(issued)
    forged["proof"]["signature"] = forged["proof"]["signature"][:-4] + "AAAA"
    assert not _check(forged, ring).valid


def test_the_whole_cloudevent_is_accepted(issued, ring) -> None:
    event = {
        "specversion": "1.0", "id": "e1", "source": "urn:library:central", "type": "clearance.certificate.issued",
        "time": "2026-11-24T10:00:02+07:00", "subject": "2019100123", "datacontenttype": "application/json",
        "data": issued,
    }  # fmt: skip
    verdict = verify_json(json.dumps(event), ring.jwks())
    assert (verdict.valid, verdict.form) == (True, "cloudevent")


def test_layout_and_field_order_do_not_matter(issued, ring) -> None:
    # The signature covers the canonical form (RFC 8785), not the bytes of the file.
    reordered = {"proof": issued["proof"], "certificate": dict(reversed(list(issued["certificate"].items())))}
    assert verify_json(json.dumps(reordered, indent=4, ensure_ascii=True), ring.jwks()).valid


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"\xff\xfe", b"[]", b'"certificate"', b'{"certificate": {}}', b'{"certificate": 1, "proof": {}}',
     b'{"specversion": "1.0", "type": "clearance.certificate.revoked", "data": {}}',
     b'{"specversion": "1.0", "type": "clearance.certificate.issued"}',
     b'{"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"]}'],
)  # fmt: skip
def test_what_is_not_a_certificate_is_unreadable(raw: bytes, ring) -> None:
    with pytest.raises(UnreadableCertificate):
        verify_json(raw, ring.jwks())


def test_a_field_given_twice_is_malformed(issued, ring) -> None:
    # Two readers could each see a different name: the input is refused, not guessed at.
    raw = json.dumps(issued).replace('"full_name": "Siti Rahmawati"', '"full_name": "A", "full_name": "B"')
    with pytest.raises(MalformedJson, match="duplicate field 'full_name'"):
        verify_json(raw, ring.jwks())


def test_nan_is_malformed(issued, ring) -> None:
    raw = json.dumps(issued).replace('"loans_outstanding": 0', '"loans_outstanding": NaN')
    with pytest.raises(MalformedJson):
        verify_json(raw, ring.jwks())
