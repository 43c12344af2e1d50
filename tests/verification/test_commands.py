"""``clearance verify`` and ``clearance certificate vc|pdf`` as a registrar or an employer runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from clearance.cli.main import main
from clearance.store.tables import OutboxRow


def _run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)


def _write(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    return path


def _issued_event(issuer, number: str) -> dict:
    """The clearance.certificate.issued CloudEvent exactly as the pipeline put it in the outbox."""
    with issuer.sessions() as session:
        for value in session.scalars(select(OutboxRow.value).where(OutboxRow.type == "clearance.certificate.issued")):
            event = json.loads(value)
            if event["data"]["certificate"]["number"] == number:
                return event
    raise AssertionError(f"no issued event for {number}")


def test_a_certificate_the_pipeline_issued_verifies_offline_from_its_event(issuer, cli_env, tmp_path) -> None:
    number = issuer.clear()
    event = _issued_event(issuer, number)
    jwks = _write(tmp_path / "jwks.json", issuer.ring.jwks())
    for given in (event, event["data"]):
        result = _run("verify", str(_write(tmp_path / "c.json", given)), "--jwks", str(jwks))
        assert result.exit_code == 0, result.output
        assert f"VALID: certificate {number}" in result.stdout
        assert "Siti Rahmawati, NIM 2019100123" in result.stdout


def test_verify_uses_the_service_keys_when_no_jwk_set_is_given(issuer, cli_env, tmp_path) -> None:
    number = issuer.clear()
    path = _write(tmp_path / "c.json", issuer.record(number).issued)
    assert _run("verify", str(path), env=cli_env).exit_code == 0


def test_a_forged_name_exits_1_and_says_why(issuer, cli_env, tmp_path) -> None:
    issued = issuer.record(issuer.clear()).issued
    issued["certificate"]["full_name"] = "Budi Pemalsu"
    result = _run("verify", str(_write(tmp_path / "c.json", issued)), env=cli_env)
    assert result.exit_code == 1
    assert "INVALID: signature does not match the certificate" in result.stdout
    assert "Budi Pemalsu" in result.stdout  # who it claims to certify, marked as a claim


def test_an_unknown_key_id_exits_1_with_that_reason(issuer, cli_env, tmp_path) -> None:
    issued = issuer.record(issuer.clear()).issued
    issued["proof"]["key_id"] = "1999-1"
    result = _run("verify", str(_write(tmp_path / "c.json", issued)), env=cli_env)
    assert result.exit_code == 1
    assert "INVALID: unknown key_id '1999-1'" in result.stdout


def test_json_output_carries_the_verdict(issuer, cli_env, tmp_path) -> None:
    number = issuer.clear()
    result = _run("verify", "--json", str(_write(tmp_path / "c.json", issuer.record(number).issued)), env=cli_env)
    verdict = json.loads(result.stdout)
    assert (verdict["valid"], verdict["form"], verdict["certificate"]["number"]) == (True, "certificate", number)


@pytest.mark.parametrize("content", ["", "{", "[1, 2]", '{"certificate": "x"}', "\udcff"])
def test_unreadable_input_exits_2(content: str, tmp_path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    jwks = _write(tmp_path / "jwks.json", {"keys": []})
    result = _run("verify", str(path), "--jwks", str(jwks))
    assert result.exit_code == 2
    assert result.stderr.startswith("UNREADABLE:")


def test_a_missing_file_exits_2(tmp_path) -> None:
    jwks = _write(tmp_path / "jwks.json", {"keys": []})
    assert _run("verify", str(tmp_path / "nope.json"), "--jwks", str(jwks)).exit_code == 2


def test_an_unreadable_jwk_set_exits_2(tmp_path) -> None:
    certificate = _write(tmp_path / "c.json", {"certificate": {}, "proof": {}})
    (tmp_path / "jwks.json").write_text("not json")
    assert _run("verify", str(certificate), "--jwks", str(tmp_path / "jwks.json")).exit_code == 2


def test_no_keys_and_no_jwk_set_exits_2(tmp_path) -> None:
    certificate = _write(tmp_path / "c.json", {"certificate": {}, "proof": {}})
    result = _run("verify", str(certificate), env={"CLEARANCE_KEY_DIR": str(tmp_path / "empty")})
    assert result.exit_code == 2
    assert "no public keys" in result.stderr


def test_the_credential_of_an_issued_certificate_verifies(issuer, cli_env, tmp_path) -> None:
    number = issuer.clear()
    result = _run("certificate", "vc", number, env=cli_env)
    assert result.exit_code == 0, result.output
    credential = json.loads(result.stdout)
    assert credential["credentialSubject"]["number"] == number
    checked = _run("verify", str(_write(tmp_path / "vc.json", credential)), env=cli_env)
    assert checked.exit_code == 0, checked.output
    assert f"VALID: certificate {number} (credential" in checked.stdout
    credential["credentialSubject"]["full_name"] = "Budi Pemalsu"
    assert _run("verify", str(_write(tmp_path / "vc.json", credential)), env=cli_env).exit_code == 1


def test_no_credential_or_pdf_is_made_for_a_revoked_certificate(issuer, cli_env, tmp_path) -> None:
    number = issuer.clear()
    issuer.withdraw()
    for args in (["certificate", "vc", number], ["certificate", "pdf", number, "-o", str(tmp_path / "c.pdf")]):
        result = CliRunner().invoke(main, args, env=cli_env)
        assert result.exit_code == 1
        assert f"certificate {number} was revoked" in result.output
    assert not (tmp_path / "c.pdf").exists()


def test_an_unknown_number_is_refused_plainly(issuer, cli_env, tmp_path) -> None:
    result = CliRunner().invoke(main, ["certificate", "vc", "BP/0000/0000000"], env=cli_env)
    assert result.exit_code == 1
    assert "no certificate 'BP/0000/0000000'" in result.output


@pytest.mark.parametrize("content", ["{", '{"certificate": "x"}'])
def test_json_output_is_json_for_an_unreadable_input_too(content: str, tmp_path) -> None:
    path = tmp_path / "c.json"
    path.write_text(content, encoding="utf-8")
    jwks = _write(tmp_path / "jwks.json", {"keys": []})
    result = _run("verify", "--json", str(path), "--jwks", str(jwks))
    assert result.exit_code == 2
    verdict = json.loads(result.stdout)
    assert verdict["valid"] is False and verdict["verdict"] == "unreadable" and verdict["reason"]
