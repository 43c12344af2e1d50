"""``clearance verify``, ``clearance serve`` and ``clearance certificate pdf|vc``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from clearance.cli.context import current_settings
from clearance.verification.offline import Presented, UnreadableCertificate, Verdict

# Exit codes of ``clearance verify``.
VALID, INVALID, UNREADABLE = 0, 1, 2
_MAX_INPUT_BYTES = 10 * 1024 * 1024


def _read(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read(_MAX_INPUT_BYTES + 1)
    with path.open("rb") as handle:
        return handle.read(_MAX_INPUT_BYTES + 1)


def _unreadable(message: str) -> NoReturn:
    context = click.get_current_context(silent=True)
    if context is not None and context.params.get("as_json"):
        # --json promises JSON whatever the verdict: a script reading stdout gets one object.
        click.echo(json.dumps({"valid": False, "verdict": "unreadable", "reason": message}, ensure_ascii=False))
    else:
        click.echo(f"UNREADABLE: {message}", err=True)
    sys.exit(UNREADABLE)


def _jwks(jwks_file: Path | None) -> dict[str, Any]:
    from clearance.signing.keys import KeyRing, KeyRingError
    from clearance.signing.public import validate_jwks

    if jwks_file is not None:
        try:
            return validate_jwks(json.loads(_read(jwks_file)))
        except (OSError, ValueError, KeyRingError) as exc:
            _unreadable(f"JWK Set {jwks_file}: {exc}")
    settings = current_settings()
    if settings.jwks_file is not None:
        return _jwks(settings.jwks_file)
    jwks = KeyRing(settings.key_dir).jwks()
    if not jwks["keys"]:
        _unreadable(f"no public keys in {settings.key_dir}; give the issuer's JWK Set with --jwks FILE")
    return jwks


def _document(path: Path | None, what: str) -> Any:
    from clearance.verification.trust import TrustError, read_document

    if path is None:
        return None
    try:
        return read_document(_read(path), f"{what} {path}")
    except OSError as exc:
        _unreadable(f"{what} {path}: {exc.strerror or exc}")
    except TrustError as exc:
        _unreadable(str(exc))


def _trust(
    presented: Presented, jwks_file: Path | None, did_file: Path | None, status_file: Path | None,
    service: str | None,
) -> tuple[dict[str, Any], dict[str, Any] | None, Any]:  # fmt: skip
    """The JWK Set, issuer DID document and status list to check ``presented`` against."""
    from clearance.verification.trust import (
        TrustError,
        expect_did_document,
        fetch_json,
        service_did_document,
        service_jwks,
        status_list_url,
    )  # fmt: skip

    try:
        if service is not None:
            jwks = service_jwks(service)
            document = service_did_document(service) if presented.form == "credential" else None
            url = status_list_url(presented, service) if status_file is None else None
            status_list = fetch_json(url) if url is not None else _document(status_file, "status list")
            return jwks, document, status_list
        document = _document(did_file, "DID document")
        if document is not None:
            document = expect_did_document(document)
            jwks = _jwks(jwks_file) if jwks_file is not None else _jwks_of_did(document)
        else:
            jwks = _jwks(jwks_file)
        return jwks, document, _document(status_file, "status list")
    except TrustError as exc:
        _unreadable(str(exc))


def _jwks_of_did(document: dict[str, Any]) -> dict[str, Any]:
    """The assertion keys of a DID document as a JWK Set, for the certificate forms."""
    from clearance.documents.credential import CredentialError
    from clearance.documents.did import assertion_key, key_id_of
    from clearance.signing.keys import public_jwk

    keys = []
    for entry in document.get("assertionMethod") or []:
        method = entry.get("id") if isinstance(entry, dict) else entry
        try:
            keys.append(public_jwk(key_id_of(str(method)), assertion_key(document, method)))
        except (CredentialError, ValueError):
            continue
    return {"keys": keys}


def _describe(verdict: Verdict) -> list[str]:
    c = verdict.certificate
    return [
        f"  {c.get('full_name', '?')}, NIM {c.get('student_id', '?')}",
        f"  {c.get('faculty', '?')} / {c.get('program', '?')} ({c.get('degree_level', '?')}), "
        f"graduation period {c.get('graduation_period', '?')}",
        f"  issued {c.get('issued_at', '?')} by {c.get('issuer', '?')}",
    ]


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--jwks",
    "jwks_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JWK Set to verify against (default: CLEARANCE_JWKS_FILE, else the public keys in CLEARANCE_KEY_DIR).",
)
@click.option(
    "--did-document",
    "did_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The issuer's DID document (did.json): a credential must be signed by one of its keys.",
)
@click.option(
    "--status-list",
    "status_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The status list credential a credential names: a revoked credential fails.",
)
@click.option(
    "--service",
    metavar="URL",
    help="Fetch the JWK Set, DID document and status list from the verification service at URL.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")  # fmt: skip
def verify(
    file: Path, jwks_file: Path | None, did_file: Path | None, status_file: Path | None, service: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Check a certificate: exit 0 valid, 1 invalid or revoked, 2 unreadable.

    FILE holds the data of a clearance.certificate.issued event, the whole
    CloudEvent, or the certificate's Verifiable Credential ("-" reads stdin).
    A credential is checked against its issuer's DID document and, when one is
    given or fetched, its status list.
    """
    from clearance.verification.offline import parse_json, read_presented, verify_presented
    from clearance.verification.trust import TrustError, credential_status

    try:
        raw = _read(file)
    except OSError as exc:
        _unreadable(f"{file}: {exc.strerror or exc}")
    if len(raw) > _MAX_INPUT_BYTES:
        _unreadable(f"{file}: larger than {_MAX_INPUT_BYTES} bytes, not a certificate")
    try:
        presented = read_presented(parse_json(raw))
    except UnreadableCertificate as exc:
        _unreadable(f"{file}: {exc}")
    jwks, document, status_list = _trust(presented, jwks_file, did_file, status_file, service)
    verdict = verify_presented(presented, jwks, document)
    status = None
    if verdict.valid:
        if document is None and presented.form == "credential":
            from clearance.documents.credential import issuer_of
            from clearance.documents.did import did_document

            document = did_document(issuer_of(presented.document) or "", jwks)
        try:
            status = credential_status(presented, document or {}, status_list)
        except TrustError as exc:
            _unreadable(str(exc))
    revoked = status is not None and status.revoked
    number = verdict.certificate.get("number", "?")
    if as_json:
        answer = verdict.as_json()
        if status is not None:
            answer.update(valid=verdict.valid and not revoked, status_checked=status.checked, revoked=revoked)
            if revoked:
                answer["reason"] = status.reason
        click.echo(json.dumps(answer, indent=2, ensure_ascii=False))
    elif revoked:
        click.echo(f"REVOKED: certificate {number}: {status.reason}")  # type: ignore[union-attr]
        click.echo("\n".join(_describe(verdict)))
    elif verdict.valid:
        click.echo(f"VALID: certificate {number} ({verdict.form}, signed with key {verdict.key_id})")
        click.echo("\n".join(_describe(verdict)))
        if status is not None and presented.form == "credential":
            click.echo(f"  status: {status.reason}")
    else:
        click.echo(f"INVALID: {verdict.reason}")
        click.echo(f"  it claims to be certificate {number}:")
        click.echo("\n".join(_describe(verdict)))
    sys.exit(VALID if verdict.valid and not revoked else INVALID)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--migrate/--no-migrate", default=True, show_default=True, help="Run database migrations first.")
def serve(host: str, port: int, migrate: bool) -> None:
    """Serve the verification service: JWK Set, DID document, status lists, POST /verify, the QR code's page.

    It needs the public JWK Set (CLEARANCE_JWKS_FILE) and read access to the
    certificate register; without CLEARANCE_JWKS_FILE it reads the public keys
    of the private key directory CLEARANCE_KEY_DIR (one machine, e.g. the demo).
    """
    import uvicorn

    from clearance.signing.keys import KeyRing, KeyRingError
    from clearance.store.migrate import upgrade
    from clearance.web.app import create_app, public_keys_of

    settings = current_settings()
    try:
        if settings.jwks_file is None:
            KeyRing(settings.key_dir).check_permissions()
        keys = public_keys_of(settings)
    except KeyRingError as exc:
        raise click.ClickException(str(exc)) from None
    if migrate:
        upgrade(settings.database_url)
    app = create_app(settings, public_keys=keys)
    click.echo(
        f"Serving the verification service on http://{host}:{port} "
        f"(certificates' QR codes open {settings.verify_base_url}/c/...); Ctrl-C stops it",
        err=True,
    )
    # No access log: the page's URL carries the certificate's token.
    uvicorn.run(app, host=host, port=port, access_log=False, log_config=None, server_header=False)


@click.group()
def certificate() -> None:
    """Issued certificates as documents: the PDF letter and the Verifiable Credential."""


@certificate.command("pdf")
@click.argument("number")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", "language", type=click.Choice(["id", "en"]), default="id", show_default=True)
def certificate_pdf(number: str, output: Path, language: str) -> None:
    """Write certificate NUMBER as an A4 PDF letter with its verification QR code."""
    from clearance.verification.letters import DocumentError, certificate_pdf, load_record

    settings = current_settings()
    try:
        pdf = certificate_pdf(settings, load_record(settings, number), language)  # type: ignore[arg-type]
    except DocumentError as exc:
        raise click.ClickException(str(exc)) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(pdf)
    click.echo(str(output))


@certificate.command("vc")
@click.argument("number")
def certificate_vc(number: str) -> None:
    """Print certificate NUMBER as a W3C Verifiable Credential 2.0 (DataIntegrityProof, eddsa-jcs-2022)."""
    from clearance.signing.keys import KeyRingError
    from clearance.verification.letters import DocumentError, certificate_credential, load_record

    settings = current_settings()
    try:
        credential = certificate_credential(settings, load_record(settings, number))
    except (DocumentError, KeyRingError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(credential, indent=2, ensure_ascii=False))


@certificate.command("status-list")
@click.option("--every", "interval", type=click.FloatRange(min=1.0), metavar="SECONDS",
              help="Keep publishing: check the register again every SECONDS (default: once, then exit).")  # fmt: skip
def certificate_status_list(interval: float | None) -> None:
    """Sign and store the credentials' status lists from the register's revocations (needs the signing key).

    `clearance serve` publishes what this stored; run it after revocations, or
    beside `clearance run` with --every.
    """
    import time

    from clearance.signing.keys import KeyRingError
    from clearance.verification.letters import publish_status_lists

    settings = current_settings()
    while True:
        try:
            changed = publish_status_lists(settings)
        except KeyRingError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"status lists signed: {', '.join(map(str, changed)) or 'none changed'}")
        if interval is None:
            return
        time.sleep(interval)


COMMANDS = [verify, serve, certificate]
