"""The verification service over the real register (SQLite and PostgreSQL): answers, standing and bad input."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from clearance.domain.page_token import tokens_match
from clearance.signing.rotation import retire, rotate
from clearance.verification.letters import certificate_credential, verification_url
from clearance.web.app import MAX_BODY_BYTES, create_app


@pytest.fixture
def client(settings, issuer) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _page_path(settings, record) -> str:
    url = urlsplit(verification_url(settings, record))
    return f"{url.path}?{url.query}"


def _no_trace(response) -> None:
    assert "Traceback" not in response.text and 'File "' not in response.text


# -- keys and health -------------------------------------------------------------------------------


def test_the_jwk_set_lists_the_public_keys_only(client, issuer) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json() == issuer.ring.jwks()
    assert all("d" not in key for key in response.json()["keys"])


def test_healthz_answers_when_the_register_is_reachable(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_healthz_says_unavailable_when_the_register_is_not(settings, tmp_path) -> None:
    broken = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/missing/dir/x.db"})
    with TestClient(create_app(broken)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


# -- POST /verify ---------------------------------------------------------------------------------


def test_a_valid_certificate_is_valid_and_issued(client, issuer) -> None:
    number = issuer.clear()
    answer = client.post("/verify", json=issuer.record(number).issued).json()
    assert answer == {
        "valid": True, "reason": "valid", "signature_valid": True, "form": "certificate",
        "key_id": issuer.ring.current_id(), "number": number, "status": "issued", "revoked_at": None,
        "revocation_reason": None,
    }  # fmt: skip


def test_the_credential_form_is_checked_against_the_register_too(client, issuer, settings) -> None:
    number = issuer.clear()
    credential = certificate_credential(settings, issuer.record(number))
    answer = client.post("/verify", json=credential).json()
    assert (answer["valid"], answer["form"], answer["status"]) == (True, "credential", "issued")


def test_a_revoked_certificate_is_not_valid_and_says_when_and_why(client, issuer) -> None:
    number = issuer.clear()
    issued = issuer.record(number).issued
    issuer.withdraw()
    record = issuer.record(number)
    answer = client.post("/verify", json=issued).json()
    assert answer["signature_valid"] is True
    assert answer["valid"] is False
    assert answer["status"] == "revoked"
    assert answer["revocation_reason"] == "application withdrawn: student postponed graduation"
    assert answer["revoked_at"] == record.revoked_at.isoformat()
    assert answer["reason"] == "revoked: application withdrawn: student postponed graduation"


def test_a_forgery_learns_nothing_about_the_register(client, issuer) -> None:
    number = issuer.clear()
    issuer.withdraw()
    forged = copy.deepcopy(issuer.record(number).issued)
    forged["certificate"]["full_name"] = "Budi Pemalsu"
    answer = client.post("/verify", json=forged).json()
    assert answer["valid"] is False and answer["signature_valid"] is False
    assert answer["reason"] == "signature does not match the certificate"
    assert (answer["status"], answer["revoked_at"], answer["revocation_reason"]) == (None, None, None)


def test_a_certificate_of_a_retired_key_is_not_valid(client, issuer) -> None:
    number = issuer.clear()
    old = issuer.ring.current_id()
    rotate(issuer.ring)
    retire(issuer.ring, old)
    answer = client.post("/verify", json=issuer.record(number).issued).json()
    assert (answer["valid"], answer["reason"]) == (False, f"unknown key_id {old!r}")


def test_rotation_keeps_earlier_certificates_valid_online(client, issuer) -> None:
    number = issuer.clear()
    rotate(issuer.ring)
    assert client.post("/verify", json=issuer.record(number).issued).json()["valid"] is True


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{", 400, "malformed"),
        (b"", 400, "malformed"),
        (b"\xff\xfe\x00", 400, "malformed"),
        (b'{"a": 1, "a": 2}', 400, "malformed"),
        (b"[]", 422, "not a certificate"),
        (b'{"certificate": {}}', 422, "not a certificate"),
        (b'{"specversion": "1.0", "type": "clearance.status.changed", "data": {}}', 422, "not a certificate"),
        (b"[" * 4_000 + b"]" * 4_000, 400, "malformed"),
    ],
    ids=["truncated", "empty", "not utf-8", "duplicate field", "array", "no proof", "other event", "deep nesting"],
)
def test_bad_bodies_get_a_clear_4xx(client, body: bytes, status: int, error: str) -> None:
    response = client.post("/verify", content=body, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert response.json()["detail"]
    _no_trace(response)


def test_an_oversized_body_is_refused_by_its_length(client) -> None:
    response = client.post("/verify", content=b"{" + b" " * MAX_BODY_BYTES + b"}")
    assert (response.status_code, response.json()["error"]) == (413, "too large")


def test_an_oversized_body_without_a_length_is_refused_while_streaming(client) -> None:
    def chunks():
        for _ in range(100):
            yield b" " * 4096

    response = client.post("/verify", content=chunks(), headers={"content-type": "application/json"})
    assert (response.status_code, response.json()["error"]) == (413, "too large")


def test_a_form_upload_is_refused_plainly(client) -> None:
    response = client.post("/verify", files={"file": ("c.json", b"{}")})
    assert (response.status_code, response.json()["error"]) == (415, "unsupported media type")


def test_unknown_routes_and_methods_get_json_errors(client) -> None:
    assert (client.get("/nope").status_code, client.get("/nope").json()["error"]) == (404, "not found")
    assert client.get("/verify").status_code == 405


def test_a_broken_key_file_is_skipped_and_the_good_keys_still_served(client, settings, issuer) -> None:
    good = issuer.ring.jwks()
    (settings.key_dir / "0000-broken.pem").write_bytes(
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    )
    (settings.key_dir / "0000-broken.pem").chmod(0o600)
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json() == good


# -- GET /c/{number}?t={token} -------------------------------------------------------------------


def test_the_page_with_the_right_token_shows_the_certificate(client, issuer, settings) -> None:
    number = issuer.clear()
    response = client.get(_page_path(settings, issuer.record(number)))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for text in ("SAH", "VALID", "Siti Rahmawati", "2019100123", "Teknik Sipil", "2026-2", number,
                 "24 November 2026", settings.university_name, settings.library_name):  # fmt: skip
        assert text in response.text
    assert "<script" not in response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_the_page_number_may_come_percent_encoded(client, issuer, settings) -> None:
    record = issuer.record(issuer.clear())
    response = client.get(f"/c/{record.number.replace('/', '%2F')}", params={"t": record.verification_token})
    assert response.status_code == 200 and "Siti Rahmawati" in response.text


def test_a_wrong_or_missing_token_reveals_nothing_but_not_found(client, issuer) -> None:
    record = issuer.record(issuer.clear())
    token = record.verification_token
    answers = [
        client.get(f"/c/{record.number}", params={"t": token[:-1] + ("A" if token[-1] != "A" else "B")}),
        client.get(f"/c/{record.number}", params={"t": token[:10]}),
        client.get(f"/c/{record.number}", params={"t": ""}),
        client.get(f"/c/{record.number}"),
        client.get(f"/c/{record.number}", params={"t": token + "x" * 5000}),
        client.get("/c/BP/2026-2/9999999", params={"t": token}),  # an unknown number
        client.get("/c/" + "9" * 500, params={"t": token}),
        client.get("/c/BP%00%0A", params={"t": token}),
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1  # all the same: nothing tells a known number from an unknown one
    for text in ("Siti Rahmawati", "2019100123", "Teknik Sipil", record.number):
        assert text not in answers[0].text
    assert "Tidak ditemukan" in answers[0].text and "Not found" in answers[0].text


def test_the_page_of_a_revoked_certificate_says_revoked_and_why(client, issuer, settings) -> None:
    number = issuer.clear()
    issuer.withdraw()
    response = client.get(_page_path(settings, issuer.record(number)))
    assert response.status_code == 200
    for text in ("DICABUT", "REVOKED", "student postponed graduation", "Siti Rahmawati"):
        assert text in response.text
    assert "SAH ·" not in response.text


def test_the_page_of_a_certificate_whose_key_was_retired_says_not_valid(client, issuer, settings) -> None:
    number = issuer.clear()
    old = issuer.ring.current_id()
    rotate(issuer.ring)
    retire(issuer.ring, old)
    response = client.get(_page_path(settings, issuer.record(number)))
    assert "TIDAK SAH" in response.text and "NOT VALID" in response.text


def test_each_certificate_gets_its_own_unguessable_token(issuer) -> None:
    tokens = [issuer.record(issuer.clear(f"20191001{i:02d}")).verification_token for i in range(5)]
    assert len(set(tokens)) == 5
    assert all(len(t) == 43 for t in tokens)  # 32 random bytes, URL-safe base64


def test_the_token_is_not_part_of_the_signed_certificate(issuer) -> None:
    record = issuer.record(issuer.clear())
    assert record.verification_token not in json.dumps(record.issued)


@pytest.mark.parametrize(
    ("expected", "given", "match"),
    [("abc", "abc", True), ("abc", "abd", False), ("abc", None, False), ("abc", "", False), (None, "abc", False),
     ("abc", "äbc", False), ("", "", False), ("a" * 128, "a" * 128, True), ("a" * 128, "a" * 129, False)],
)  # fmt: skip
def test_tokens_match_only_when_equal(expected, given, match: bool) -> None:
    assert tokens_match(expected, given) is match
