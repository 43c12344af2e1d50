"""Key rotation and retirement: old certificates stay verifiable until their key is retired."""

from __future__ import annotations

import json
import stat

import pytest
from click.testing import CliRunner

from clearance.cli.main import main
from clearance.signing.keys import KeyRing, KeyRingError, verify
from clearance.signing.rotation import retire, retired_ids, rotate


def _valid(issuer, number: str) -> tuple[bool, str]:
    issued = issuer.record(number).issued
    return verify(issued["certificate"], issued["proof"], issuer.ring.jwks())


def test_after_rotation_new_certificates_use_the_new_key_and_old_ones_still_verify(issuer) -> None:
    before = issuer.clear("2019100001", "Siti Rahmawati")
    old_key = issuer.ring.current_id()
    new_key = rotate(issuer.ring).key_id
    after = issuer.clear("2019100002", "Budi Santoso")
    assert new_key != old_key
    assert issuer.record(before).key_id == old_key
    assert issuer.record(after).key_id == new_key
    assert _valid(issuer, before) == (True, "valid")
    assert _valid(issuer, after) == (True, "valid")
    assert [k["kid"] for k in issuer.ring.jwks()["keys"]] == sorted([old_key, new_key])


def test_a_retired_key_leaves_the_jwk_set_and_its_certificates_fail(issuer) -> None:
    before = issuer.clear("2019100001")
    old_key = issuer.ring.current_id()
    rotate(issuer.ring)
    after = issuer.clear("2019100002")
    retire(issuer.ring, old_key)
    assert old_key not in [k["kid"] for k in issuer.ring.jwks()["keys"]]
    assert _valid(issuer, before) == (False, f"unknown key_id {old_key!r}")
    assert _valid(issuer, after) == (True, "valid")


def test_private_keys_are_owner_only_and_never_leave_the_key_directory(tmp_path) -> None:
    ring = KeyRing(tmp_path / "keys")
    ring.signing_key(create=True)
    first = ring.current_id()
    rotate(ring)
    retire(ring, first)
    files = [p for p in (tmp_path / "keys").rglob("*") if p.is_file() and p.suffix == ".pem"]
    assert len(files) == 2
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in [tmp_path / "keys", tmp_path / "keys" / "retired"])
    assert {p.parent for p in files} <= {tmp_path / "keys", tmp_path / "keys" / "retired"}
    assert all(set(jwk) == {"kty", "crv", "kid", "x", "use", "alg"} for jwk in ring.jwks()["keys"])  # no "d"


def test_the_signing_key_cannot_be_retired(tmp_path) -> None:
    ring = KeyRing(tmp_path / "keys")
    current = ring.signing_key(create=True).key_id
    with pytest.raises(KeyRingError, match="rotate"):
        retire(ring, current)


def test_a_retired_key_id_is_never_handed_out_again(tmp_path) -> None:
    ring = KeyRing(tmp_path / "keys")
    first = ring.signing_key(create=True).key_id
    second = rotate(ring).key_id
    retire(ring, first)
    third = rotate(ring).key_id
    assert len({first, second, third}) == 3
    assert retired_ids(ring) == [first]
    with pytest.raises(KeyRingError, match="retired"):
        rotate(ring, key_id=first)


def test_rotation_refuses_a_key_directory_others_can_read(tmp_path) -> None:
    ring = KeyRing(tmp_path / "keys")
    key = ring.signing_key(create=True)
    (tmp_path / "keys" / f"{key.key_id}.pem").chmod(0o644)
    with pytest.raises(KeyRingError, match="readable by others"):
        rotate(ring)


def test_the_keys_commands_rotate_and_retire(tmp_path) -> None:
    env = {"CLEARANCE_KEY_DIR": str(tmp_path / "keys"), "CLEARANCE_LOG_FORMAT": "console"}
    runner = CliRunner()
    # keys jwks never makes a key (a genuine certificate would later be called forged): rotate makes the first.
    assert runner.invoke(main, ["keys", "jwks"], env=env).exit_code == 1
    assert runner.invoke(main, ["keys", "rotate"], env=env).exit_code == 0
    first = json.loads(runner.invoke(main, ["keys", "jwks"], env=env).stdout)["keys"][0]["kid"]
    rotated = runner.invoke(main, ["keys", "rotate", "--key-id", "2026-b"], env=env)
    assert rotated.exit_code == 0, rotated.output
    assert rotated.stdout.startswith(f"signing key is now 2026-b (was {first})")
    refused = runner.invoke(main, ["keys", "retire", "2026-b"], env=env)
    assert refused.exit_code == 1 and "is the signing key" in refused.output
    retired = runner.invoke(main, ["keys", "retire", first], env=env)
    assert retired.exit_code == 0, retired.output
    kids = [k["kid"] for k in json.loads(runner.invoke(main, ["keys", "jwks"], env=env).stdout)["keys"]]
    assert kids == ["2026-b"]
