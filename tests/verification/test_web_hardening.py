"""The web layer's leftovers (issue 15 item 5): bad numbers and strings are 400s, no redirect from the Host header,
405 with Allow, HEAD wherever GET, an 8 KiB body cap, page tokens looked up by hash, no password printed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import make_url, text

from clearance.cli.main import main
from clearance.settings import Settings
from clearance.web.app import MAX_BODY_BYTES, create_app

DB_SECRET = "hunter2-db-Pa55"


@pytest.fixture
def client(settings, issuer) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def _post(client: TestClient, body: bytes):
    return client.post("/verify", content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    "body",
    [
        b'{"certificate": {"number": 1e999}, "proof": {}}',
        b'{"certificate": {"number": -1e400}, "proof": {}}',
        b'{"certificate": {"n": ' + b"9" * 5000 + b'}, "proof": {}}',
        b'{"certificate": {"n": ' + b"9" * 41 + b'}, "proof": {}}',
        b'{"certificate": {"n": 1.' + b"5" * 60 + b'}, "proof": {}}',
        b'{"certificate": {"full_name": "\\ud800"}, "proof": {}}',
        b'{"certificate": {"full_name": "x\\udfffy"}, "proof": {}}',
        b'{"certificate": {"\\udbff": "key"}, "proof": {}}',
    ],
    ids=[
        "infinity",
        "minus infinity",
        "5000 digits",
        "41 digits",
        "long fraction",
        "lone high surrogate",
        "lone low surrogate",
        "surrogate in a key",
    ],
)
def test_non_finite_or_huge_numbers_and_lone_surrogates_are_400_not_500(client, body: bytes) -> None:
    response = _post(client, body)
    assert (response.status_code, response.json()["error"]) == (400, "malformed")


def test_a_surrogate_pair_is_a_character_and_reads_fine(client, issuer) -> None:
    import json

    issued = issuer.record(issuer.clear()).issued
    issued["certificate"]["full_name"] = "Siti \U0001f600"
    body = json.dumps(issued).encode()  # ensure_ascii: written as the pair \ud83d\ude00
    assert b"\\ud83d\\ude00" in body
    answer = _post(client, body).json()
    assert answer["signature_valid"] is False and answer["reason"] == "signature does not match the certificate"


def test_an_integer_beyond_the_canonical_range_is_an_invalid_certificate_not_a_500(client) -> None:
    body = (
        b'{"certificate": {"number": "BP/1", "n": 123456789012345678901234567890}, '
        b'"proof": {"alg": "Ed25519", "key_id": "2026-1", "signature": "AA"}}'
    )
    response = _post(client, body)
    assert response.status_code == 200
    assert response.json()["valid"] is False


def test_the_body_cap_is_near_8_kib(client) -> None:
    assert MAX_BODY_BYTES == 8 * 1024
    response = _post(client, b"{" + b" " * MAX_BODY_BYTES + b"}")
    assert (response.status_code, response.json()["error"]) == (413, "too large")
    assert _post(client, b"{" + b" " * (MAX_BODY_BYTES - 2) + b"}").status_code == 422  # read, not a certificate


def test_a_host_header_never_becomes_a_redirect_carrying_the_token(client, issuer) -> None:
    token = issuer.record(issuer.clear()).verification_token
    for path in ("/c", "/c/", "/verify/", "/.well-known/jwks.json/", "/healthz/"):
        response = client.get(path, params={"t": token}, headers={"host": "evil.example"})
        assert response.status_code == 404 or response.status_code == 405, (path, response.status_code)
        assert "location" not in response.headers
        assert "evil.example" not in response.text and token not in response.text


def test_a_405_says_which_methods_are_allowed(client) -> None:
    response = client.get("/verify")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    response = client.post("/healthz")
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_head_works_wherever_get_does(client, issuer, settings) -> None:
    record = issuer.record(issuer.clear())
    paths = [
        "/healthz",
        "/.well-known/jwks.json",
        "/.well-known/did.json",
        f"/c/{record.number}?t={record.verification_token}",
    ]
    for path in paths:
        get, head = client.get(path), client.head(path)
        assert (head.status_code, get.status_code) == (200, 200), path
        assert head.headers["content-type"] == get.headers["content-type"]


def test_the_page_token_is_stored_as_its_sha256_and_looked_up_by_it(client, issuer, settings) -> None:
    record = issuer.record(issuer.clear())
    with issuer.engine.begin() as connection:
        stored = connection.execute(text("SELECT verification_token_sha256 FROM certificates WHERE number = :n"),
                                    {"n": record.number}).scalar()  # fmt: skip
        if issuer.engine.dialect.name == "postgresql":
            # The database computes it for every new row (a trigger of migration 0006).
            assert stored == hashlib.sha256(record.verification_token.encode()).hexdigest()
        # The page finds the row by the hash, not the number: give the row the hash of another token.
        connection.execute(text("UPDATE certificates SET verification_token_sha256 = :h WHERE number = :n"),
                           {"h": hashlib.sha256(b"another-token").hexdigest(), "n": record.number})  # fmt: skip
    assert client.get(f"/c/{record.number}", params={"t": "another-token"}).status_code == 200
    assert client.get(f"/c/{record.number}", params={"t": record.verification_token}).status_code == 404


def test_a_token_of_another_certificate_opens_nothing(client, issuer) -> None:
    first = issuer.record(issuer.clear())
    second = issuer.record(issuer.clear(student="2019100999", full_name="Budi Santoso"))
    response = client.get(f"/c/{first.number}", params={"t": second.verification_token})
    assert response.status_code == 404 and "Budi" not in response.text and "Siti" not in response.text


def test_the_settings_repr_never_shows_the_database_password() -> None:
    settings = Settings(database_url=f"postgresql://clearance:{DB_SECRET}@db/clearance", _env_file=None)  # type: ignore[call-arg]
    assert DB_SECRET not in repr(settings) and DB_SECRET not in str(settings)
    assert "postgresql://clearance:***@db/clearance" in repr(settings)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    "command",
    [["certificate", "pdf", "BP/0000/404", "-o", "x.pdf"], ["certificate", "vc", "BP/0000/404"]],
    ids=["pdf", "vc"],
)
def test_certificate_commands_never_print_the_database_password(cli_env, settings, command) -> None:
    # The test cluster trusts local connections, so any password gets in: the URL still carries it.
    with_password = make_url(settings.database_url).set(password=DB_SECRET).render_as_string(hide_password=False)
    result = CliRunner().invoke(main, command, env={**cli_env, "CLEARANCE_DATABASE_URL": with_password})
    assert result.exit_code != 0
    assert "no certificate 'BP/0000/404'" in result.output
    assert DB_SECRET not in result.output


def test_verify_accepts_a_credential_only_as_this_services_issuer(client, issuer, settings) -> None:
    from datetime import UTC, datetime

    from clearance.documents.credential import sign_credential
    from clearance.verification.letters import certificate_credential

    genuine = certificate_credential(settings, issuer.record(issuer.clear()))
    assert client.post("/verify", json=genuine).json()["valid"] is True
    unsecured = {k: v for k, v in genuine.items() if k != "proof"}
    unsecured["issuer"] = {"id": "did:web:other-library.example", "name": "Another library"}
    elsewhere = sign_credential(unsecured, issuer.ring.signing_key(), datetime.now(UTC))
    answer = client.post("/verify", json=elsewhere).json()
    assert answer["valid"] is False
    assert answer["reason"] == "issuer 'did:web:other-library.example' is not 'did:web:verify.test'"
