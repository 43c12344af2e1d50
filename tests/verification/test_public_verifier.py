"""The public verifier holds no private key: it serves from a JWK Set file, publishes the issuer's DID document
and signed status lists, and revoked credentials fail as revoked offline (files) and online (the service URL)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from fastapi.testclient import TestClient
from services import postgres_admin_engine
from sqlalchemy import create_engine, make_url, text

from clearance.cli.main import main
from clearance.documents.did import did_document, did_web
from clearance.documents.status_list import check_status
from clearance.verification.letters import certificate_credential, publish_status_lists
from clearance.web.app import create_app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "verifier.md"


def _run(*args: str, env: dict[str, str]):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def jwks_file(issuer, cli_env, tmp_path) -> Path:
    """The public JWK Set as the signing side writes it: ``clearance keys jwks -o FILE``."""
    path = tmp_path / "public" / "jwks.json"
    result = _run("keys", "jwks", "-o", str(path), env=cli_env)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def public_settings(settings, jwks_file, tmp_path):
    """The verifier's settings: the JWK Set file, and a key directory that does not exist."""
    return settings.model_copy(update={"jwks_file": jwks_file, "key_dir": tmp_path / "no-keys-here"})


@pytest.fixture
def public(public_settings) -> Iterator[TestClient]:
    with TestClient(create_app(public_settings), raise_server_exceptions=False) as client:
        yield client


def test_keys_jwks_writes_a_public_file_without_private_parts(jwks_file, issuer) -> None:
    assert json.loads(jwks_file.read_text()) == issuer.ring.jwks()
    assert '"d"' not in jwks_file.read_text()
    assert jwks_file.stat().st_mode & 0o777 == 0o644


def test_the_verifier_serves_with_a_jwks_file_and_no_key_directory(public, public_settings, issuer) -> None:
    number = issuer.clear()
    assert not public_settings.key_dir.exists()
    assert public.get("/.well-known/jwks.json").json() == issuer.ring.jwks()
    answer = public.post("/verify", json=issuer.record(number).issued).json()
    assert (answer["valid"], answer["status"]) == (True, "issued")
    assert not public_settings.key_dir.exists()


def test_the_verifier_reads_the_jwks_file_again_when_it_changes(public, issuer, cli_env, jwks_file) -> None:
    number = issuer.clear()
    old = issuer.ring.current_id()
    assert _run("keys", "rotate", env=cli_env).exit_code == 0
    assert _run("keys", "retire", old, env=cli_env).exit_code == 0
    assert _run("keys", "jwks", "-o", str(jwks_file), env=cli_env).exit_code == 0
    answer = public.post("/verify", json=issuer.record(number).issued).json()
    assert (answer["valid"], answer["reason"]) == (False, f"unknown key_id {old!r}")


def test_a_jwks_file_carrying_a_private_key_is_refused(settings, issuer, tmp_path) -> None:
    key = issuer.ring.signing_key()
    from cryptography.hazmat.primitives import serialization

    from clearance.signing.keys import b64url, public_jwk

    jwk = public_jwk(key.key_id, key.public_key)
    jwk["d"] = b64url(key.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                                    serialization.NoEncryption()))  # fmt: skip
    path = tmp_path / "leaky.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    from clearance.signing.keys import KeyRingError

    with pytest.raises(KeyRingError, match="private part"):
        create_app(settings.model_copy(update={"jwks_file": path}))


def test_clearance_serve_runs_with_only_a_jwks_file(public_settings, tmp_path) -> None:
    """The real command, as the k8s verify deployment runs it: no key directory, no migration."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
           "CLEARANCE_DATABASE_URL": public_settings.database_url,
           "CLEARANCE_JWKS_FILE": str(public_settings.jwks_file),
           "CLEARANCE_KEY_DIR": str(public_settings.key_dir), "CLEARANCE_VERIFY_BASE_URL": "https://lib.example.ac.id",
           "CLEARANCE_LOG_FORMAT": "console"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "clearance.cli", "serve", "--port", str(port), "--no-migrate"],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        did = _get_when_up(f"http://127.0.0.1:{port}/.well-known/did.json", proc)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0].decode()
    assert did["id"] == "did:web:lib.example.ac.id"
    assert did["assertionMethod"] == [f"did:web:lib.example.ac.id#{k['kid']}" for k in
                                      json.loads(public_settings.jwks_file.read_text())["keys"]]  # fmt: skip
    assert not public_settings.key_dir.exists()
    assert "verifier_reads_private_key_directory" not in output


def _get_when_up(url: str, proc: subprocess.Popen | None = None) -> dict:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
                raise
            time.sleep(0.2)


# -- the DID document and the status list ----------------------------------------------------------


def test_the_did_document_lists_every_public_key_under_assertion_method(public, public_settings, issuer) -> None:
    document = public.get("/.well-known/did.json").json()
    did = did_web(public_settings.verify_base_url)
    assert document == did_document(did, issuer.ring.jwks())
    assert document["assertionMethod"] == [f"{did}#{issuer.ring.current_id()}"]


def test_the_did_document_is_also_where_did_web_puts_it_for_a_base_path(public_settings) -> None:
    with_path = public_settings.model_copy(update={"verify_base_url": "https://example.ac.id/perpustakaan"})
    with TestClient(create_app(with_path)) as client:
        document = client.get("/perpustakaan/did.json").json()
    assert document["id"] == "did:web:example.ac.id:perpustakaan"


def test_no_status_list_is_served_before_the_signing_side_published_one(public) -> None:
    assert public.get("/status/0").status_code == 404


def test_the_served_status_list_reflects_each_revocation(public, settings, issuer) -> None:
    number = issuer.clear()
    credential = certificate_credential(settings, issuer.record(number))
    document = public.get("/.well-known/did.json").json()
    assert publish_status_lists(settings) == [0]
    before = public.get("/status/0").json()
    assert check_status(credential, before, document) == (False, "not revoked")
    issuer.withdraw()
    assert publish_status_lists(settings) == [0]
    assert publish_status_lists(settings) == []  # nothing changed since
    after = public.get("/status/0").json()
    revoked, reason = check_status(credential, after, document)
    assert revoked is True and reason.startswith("revoked")
    assert after["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert after["proof"]["cryptosuite"] == "eddsa-jcs-2022"


def test_status_indexes_are_distinct_and_stable(issuer) -> None:
    numbers = [issuer.clear(student=f"20191001{n:02d}") for n in range(5)]
    indexes = [issuer.record(n).status_index for n in numbers]
    assert sorted(indexes) == list(range(5))
    issuer.withdraw(student="2019100101")
    assert [issuer.record(n).status_index for n in numbers] == indexes


# -- clearance verify: offline with files, online with the service URL -----------------------------


def _write(path: Path, value: object) -> str:
    path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


def test_a_revoked_credential_fails_as_revoked_offline_from_files(public, settings, issuer, tmp_path) -> None:
    number = issuer.clear()
    credential = _write(tmp_path / "vc.json", certificate_credential(settings, issuer.record(number)))
    did = _write(tmp_path / "did.json", public.get("/.well-known/did.json").json())
    publish_status_lists(settings)
    fresh = _write(tmp_path / "status-fresh.json", public.get("/status/0").json())
    result = _run("verify", credential, "--did-document", did, "--status-list", fresh, env={})
    assert result.exit_code == 0, result.output
    assert "status: not revoked" in result.output
    issuer.withdraw()
    publish_status_lists(settings)
    revoked = _write(tmp_path / "status.json", public.get("/status/0").json())
    result = _run("verify", credential, "--did-document", did, "--status-list", revoked, env={})
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"REVOKED: certificate {number}: revoked (status list")


def test_a_did_key_forgery_fails_against_the_did_document_file(public, settings, issuer, tmp_path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from clearance.documents.credential import add_proof, did_key

    genuine = certificate_credential(settings, issuer.record(issuer.clear()))
    stranger = Ed25519PrivateKey.generate()
    unsecured = {k: v for k, v in genuine.items() if k != "proof"}
    unsecured["credentialSubject"] = {**unsecured["credentialSubject"], "full_name": "Budi Pemalsu"}
    forged = add_proof(unsecured, stranger, verification_method=did_key(stranger.public_key()),
                       created="2026-11-25T08:00:00Z")  # fmt: skip
    did = _write(tmp_path / "did.json", public.get("/.well-known/did.json").json())
    result = _run("verify", _write(tmp_path / "forged.json", forged), "--did-document", did, env={})
    assert result.exit_code == 1
    assert result.output.startswith("INVALID: verificationMethod 'did:key:z6Mk")
    assert public.post("/verify", json=forged).json()["valid"] is False


class _Server:
    """The verification service on a loopback port chosen before the app is made (its base URL needs it)."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def start(self, app) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.thread.start()
        _get_when_up(self.url + "/healthz")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


def test_a_revoked_credential_fails_as_revoked_online(settings, issuer, jwks_file, tmp_path) -> None:
    server = _Server()
    signing = settings.model_copy(update={"verify_base_url": server.url})
    public = signing.model_copy(update={"jwks_file": jwks_file, "key_dir": tmp_path / "none"})
    server.start(create_app(public))
    try:
        number = issuer.clear()
        credential = _write(tmp_path / "vc.json", certificate_credential(signing, issuer.record(number)))
        publish_status_lists(signing)
        result = _run("verify", credential, "--service", server.url, env={})
        assert result.exit_code == 0, result.output
        issuer.withdraw()
        publish_status_lists(signing)
        result = _run("verify", credential, "--service", server.url, "--json", env={})
        assert result.exit_code == 1, result.output
        verdict = json.loads(result.output)
        assert (verdict["valid"], verdict["revoked"], verdict["status_checked"]) == (False, True, True)
        with urllib.request.urlopen(urllib.request.Request(
            server.url + "/verify", data=(tmp_path / "vc.json").read_bytes(), method="POST",
            headers={"content-type": "application/json"},
        )) as response:  # fmt: skip
            assert json.loads(response.read())["status"] == "revoked"
    finally:
        server.stop()


# -- the read-only database role ------------------------------------------------------------------


def _documented_role_sql() -> str:
    block = re.search(r"<!-- verify-role-sql -->\n```sql\n(.*?)```", DOCS.read_text(), re.S)
    assert block, "docs/verifier.md lost its read-only role SQL"
    return block.group(1)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_verifier_works_over_the_documented_read_only_role(settings, issuer, jwks_file, tmp_path) -> None:
    role = f"clearance_verify_{uuid.uuid4().hex[:8]}"
    url = make_url(settings.database_url)
    sql = (
        _documented_role_sql()
        .replace("clearance_verify", role)
        .replace("DATABASE clearance", f'DATABASE "{url.database}"')
    )
    owner = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with owner.connect() as connection:
        for statement in filter(str.strip, sql.split(";")):
            connection.execute(text(statement))
    owner.dispose()
    try:
        number = issuer.clear()
        publish_status_lists(settings)
        reader = url.set(username=role, password="change-me").render_as_string(hide_password=False)
        public = settings.model_copy(update={"database_url": reader, "jwks_file": jwks_file, "key_dir": tmp_path / "x"})
        with TestClient(create_app(public), raise_server_exceptions=False) as client:
            record = issuer.record(number)
            assert client.post("/verify", json=record.issued).json()["status"] == "issued"
            assert client.get(f"/c/{number}", params={"t": record.verification_token}).status_code == 200
            assert client.get("/status/0").status_code == 200
        writer = create_engine(url.set(drivername="postgresql+psycopg", username=role, password="change-me"))
        with writer.connect() as connection, pytest.raises(Exception, match=r"read-only|permission denied"):
            connection.execute(text("UPDATE certificates SET revoked_at = NULL"))
        writer.dispose()
    finally:
        admin = postgres_admin_engine()
        with admin.connect() as connection:
            connection.execute(text(f'REVOKE ALL ON DATABASE "{url.database}" FROM {role}'))
        admin.dispose()
        cleanup = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
        with cleanup.connect() as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))
        cleanup.dispose()


def test_the_status_list_command_signs_once_and_again_only_after_a_revocation(issuer, cli_env) -> None:
    issuer.clear()
    assert _run("certificate", "status-list", env=cli_env).output == "status lists signed: 0\n"
    assert _run("certificate", "status-list", env=cli_env).output == "status lists signed: none changed\n"
    issuer.withdraw()
    assert _run("certificate", "status-list", env=cli_env).output == "status lists signed: 0\n"


def test_serve_refuses_to_start_without_a_readable_jwks_file(cli_env, tmp_path) -> None:
    env = {**cli_env, "CLEARANCE_JWKS_FILE": str(tmp_path / "missing.json")}
    result = CliRunner().invoke(main, ["serve", "--no-migrate"], env=env)
    assert result.exit_code == 1
    assert "JWK Set" in result.output and "missing.json" in result.output
    assert "Traceback" not in result.output
