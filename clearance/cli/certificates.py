"""``clearance verify``, ``clearance serve`` and ``clearance certificate pdf|vc``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from clearance.cli.context import current_settings
from clearance.verification.offline import UnreadableCertificate, Verdict, verify_json

# Exit codes of ``clearance verify``.
VALID, INVALID, UNREADABLE = 0, 1, 2
_MAX_INPUT_BYTES = 10 * 1024 * 1024


def _read(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read(_MAX_INPUT_BYTES + 1)
    with path.open("rb") as handle:
        return handle.read(_MAX_INPUT_BYTES + 1)


def _unreadable(message: str) -> None:
    click.echo(f"UNREADABLE: {message}", err=True)
    sys.exit(UNREADABLE)


def _jwks(jwks_file: Path | None) -> dict[str, Any]:
    if jwks_file is not None:
        try:
            jwks = json.loads(_read(jwks_file))
        except (OSError, ValueError) as exc:
            _unreadable(f"JWK Set {jwks_file}: {exc}")
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            _unreadable(f"JWK Set {jwks_file}: expected an object with a 'keys' array")
        return jwks
    from clearance.signing.keys import KeyRing

    settings = current_settings()
    jwks = KeyRing(settings.key_dir).jwks()
    if not jwks["keys"]:
        _unreadable(f"no public keys in {settings.key_dir}; give the issuer's JWK Set with --jwks FILE")
    return jwks


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
    help="JWK Set to verify against (default: the public keys in CLEARANCE_KEY_DIR).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")  # fmt: skip
def verify(file: Path, jwks_file: Path | None, as_json: bool) -> None:
    """Check a certificate offline: exit 0 valid, 1 invalid, 2 unreadable.

    FILE holds the data of a clearance.certificate.issued event, the whole
    CloudEvent, or the certificate's Verifiable Credential ("-" reads stdin).
    """
    try:
        raw = _read(file)
    except OSError as exc:
        _unreadable(f"{file}: {exc.strerror or exc}")
    if len(raw) > _MAX_INPUT_BYTES:
        _unreadable(f"{file}: larger than {_MAX_INPUT_BYTES} bytes, not a certificate")
    jwks = _jwks(jwks_file)
    try:
        verdict = verify_json(raw, jwks)
    except UnreadableCertificate as exc:
        _unreadable(f"{file}: {exc}")
    number = verdict.certificate.get("number", "?")
    if as_json:
        click.echo(json.dumps(verdict.as_json(), indent=2, ensure_ascii=False))
    elif verdict.valid:
        click.echo(f"VALID: certificate {number} ({verdict.form}, signed with key {verdict.key_id})")
        click.echo("\n".join(_describe(verdict)))
    else:
        click.echo(f"INVALID: {verdict.reason}")
        click.echo(f"  it claims to be certificate {number}:")
        click.echo("\n".join(_describe(verdict)))
    sys.exit(VALID if verdict.valid else INVALID)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--migrate/--no-migrate", default=True, show_default=True, help="Run database migrations first.")
def serve(host: str, port: int, migrate: bool) -> None:
    """Serve the verification service: JWK Set, POST /verify, the QR code's page, /healthz."""
    import uvicorn

    from clearance.signing.keys import KeyRing, KeyRingError
    from clearance.store.migrate import upgrade
    from clearance.web.app import create_app

    settings = current_settings()
    try:
        KeyRing(settings.key_dir).check_permissions()
    except KeyRingError as exc:
        raise click.ClickException(str(exc)) from None
    if migrate:
        upgrade(settings.database_url)
    # No access log: the page's URL carries the certificate's token.
    uvicorn.run(create_app(settings), host=host, port=port, access_log=False, log_config=None, server_header=False)


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


COMMANDS = [verify, serve, certificate]
