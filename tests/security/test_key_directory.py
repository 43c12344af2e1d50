"""The signing key directory is checked for real: only the service user's own, private, non-symlinked files count.

Reproduces issue 15 item 3: with the key directory open to everyone, another
user dropped ``zz-evil.pem`` into it; the service published that key and a
certificate forged with it verified as VALID. Now such a file never reaches the
JWK Set, and the forged certificate is INVALID.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from structlog.testing import capture_logs

from clearance.signing.keys import KeyRing, KeyRingError, SigningKey
from clearance.verification.offline import Presented, verify_presented

CERTIFICATE = {"number": "BP/2026-2/0000001", "student_id": "2019100123", "full_name": "Siti Rahmawati",
               "issuer": "urn:library:central", "issued_at": "2026-11-24T10:00:02+07:00"}  # fmt: skip
NOBODY = 65534


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _forged_with(key: Ed25519PrivateKey, key_id: str) -> Presented:
    issued = {"certificate": CERTIFICATE, "proof": SigningKey(key_id, key).sign(CERTIFICATE)}
    return Presented("certificate", CERTIFICATE, issued)


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    ring = KeyRing(tmp_path / "keys")
    ring.signing_key(create=True)
    return ring


def _drop(ring: KeyRing, name: str, *, mode: int = 0o600, owner: int | None = None) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    path = ring.directory / name
    path.write_bytes(_pem(key))
    path.chmod(mode)
    if owner is not None:
        os.chown(path, owner, owner)
    return key


def _needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("making a file owned by another user needs root (the CI container runs as root)")


def test_a_key_another_user_dropped_into_an_open_directory_is_not_published(ring: KeyRing) -> None:
    _needs_root()
    ring.directory.chmod(0o777)
    evil = _drop(ring, "zz-evil.pem", owner=NOBODY)
    jwks = ring.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [ring.current_id()]
    verdict = verify_presented(_forged_with(evil, "zz-evil"), jwks)
    assert (verdict.valid, verdict.reason) == (False, "unknown key_id 'zz-evil'")


def test_the_signing_key_stays_the_services_own_when_another_user_names_a_later_key(ring: KeyRing) -> None:
    _needs_root()
    own = ring.current_id()
    _drop(ring, "zz-evil.pem", owner=NOBODY)
    (ring.directory / "current").unlink()  # without a marker the newest name would be taken
    with pytest.raises(KeyRingError, match="owned by uid 65534"):
        ring.load("zz-evil")
    assert ring.current_id() == own
    assert ring.signing_key(create=False).key_id == own


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o666])
def test_a_key_file_with_group_or_other_access_is_skipped(ring: KeyRing, mode: int) -> None:
    evil = _drop(ring, "zz-evil.pem", mode=mode)
    jwks = ring.jwks()
    assert "zz-evil" not in [k["kid"] for k in jwks["keys"]]
    assert verify_presented(_forged_with(evil, "zz-evil"), jwks).valid is False


def test_a_symlinked_key_file_is_never_followed(ring: KeyRing, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.pem"
    evil = Ed25519PrivateKey.generate()
    elsewhere.write_bytes(_pem(evil))
    elsewhere.chmod(0o600)
    (ring.directory / "zz-evil.pem").symlink_to(elsewhere)
    jwks = ring.jwks()
    assert "zz-evil" not in [k["kid"] for k in jwks["keys"]]
    assert verify_presented(_forged_with(evil, "zz-evil"), jwks).valid is False
    with pytest.raises(KeyRingError, match="symlink"):
        ring.load("zz-evil")


def test_a_symlinked_current_marker_is_refused(ring: KeyRing, tmp_path: Path) -> None:
    target = tmp_path / "marker"
    target.write_text("2026-1\n")
    target.chmod(0o600)
    (ring.directory / "current").unlink()
    (ring.directory / "current").symlink_to(target)
    with pytest.raises(KeyRingError, match="symlink"):
        ring.current_id()
    with pytest.raises(KeyRingError, match="symlink"):
        ring.check_permissions()


@pytest.mark.parametrize("mode", [0o777, 0o750, 0o701])
def test_a_key_directory_open_to_group_or_others_is_refused_at_start(ring: KeyRing, mode: int) -> None:
    ring.directory.chmod(mode)
    with pytest.raises(KeyRingError, match="chmod 700"):
        ring.check_permissions()


def test_a_key_directory_owned_by_another_user_is_refused_at_start(ring: KeyRing) -> None:
    _needs_root()
    os.chown(ring.directory, NOBODY, NOBODY)
    with pytest.raises(KeyRingError, match="owned by uid 65534"):
        ring.check_permissions()


def test_an_exposed_or_foreign_key_file_is_refused_at_start(ring: KeyRing) -> None:
    _drop(ring, "zz-evil.pem", mode=0o644)
    with pytest.raises(KeyRingError, match=r"zz-evil\.pem"):
        ring.check_permissions()


def test_one_bad_file_is_skipped_and_logged_once_not_an_error_on_every_call(ring: KeyRing) -> None:
    (ring.directory / "0000-broken.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    (ring.directory / "0000-broken.pem").chmod(0o600)
    good = [ring.current_id()]
    with capture_logs() as logs:
        for _ in range(3):
            assert [k["kid"] for k in ring.jwks()["keys"]] == good
    skipped = [e for e in logs if e["event"] == "signing_key_file_skipped"]
    assert [e["key_id"] for e in skipped] == ["0000-broken"]


def test_a_key_is_read_once_and_again_when_its_file_changes(ring: KeyRing) -> None:
    key_id = ring.current_id()
    assert key_id is not None
    first = ring.load(key_id)
    assert ring.load(key_id) is first  # not read again
    path = ring.directory / f"{key_id}.pem"
    replacement = Ed25519PrivateKey.generate()
    path.write_bytes(_pem(replacement))
    os.utime(path, ns=(1, 1))  # a rewrite within the clock's resolution still changes the identity
    assert ring.load(key_id).public_key.public_bytes_raw() == replacement.public_key().public_bytes_raw()


def test_current_is_written_atomically_and_owner_only(ring: KeyRing) -> None:
    ring.generate("2026-9")
    marker = ring.directory / "current"
    assert marker.read_text() == "2026-9\n"
    assert marker.stat().st_mode & 0o777 == 0o600
    assert not list(ring.directory.glob(".tmp-*"))


def test_the_key_in_force_is_kept_when_its_file_turns_unsafe(ring: KeyRing) -> None:
    from clearance.signing.source import KeySource

    source = KeySource(ring)
    key = source()
    path = ring.directory / f"{key.key_id}.pem"
    path.chmod(0o644)
    os.utime(path, ns=(2, 2))
    with capture_logs() as logs:
        assert source() is key  # keeps signing with the last good key (G10), and says why
    assert any(e["event"] == "signing_key_reload_failed" for e in logs)
