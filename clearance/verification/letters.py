"""A registered certificate as the documents it is handed out as: the PDF letter and the credential."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from clearance.documents.credential import sign_credential, unsecured_credential
from clearance.documents.did import did_web
from clearance.documents.pdf import Letterhead, render_pdf
from clearance.documents.status_list import status_entry
from clearance.documents.wording import Language
from clearance.domain.page_token import page_url
from clearance.settings import Settings
from clearance.signing.keys import KeyRing, verify
from clearance.store.engine import Database
from clearance.verification import register, status_lists


class DocumentError(Exception):
    """A certificate that cannot be handed out: unknown, revoked, or failing its own signature."""


def display_url(database_url: str) -> str:
    """A database URL fit to print: its password replaced by ``***``."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database url>"


def load_record(settings: Settings, number: str) -> register.Record:
    """The certificate ``number`` from the register of ``settings``' database."""
    with Database(settings.database_url) as database, database.sessions() as session:
        record = register.find(session, number)
    if record is None:
        raise DocumentError(f"no certificate {number!r} in the register at {display_url(settings.database_url)}")
    return record


def _handable(settings: Settings, record: register.Record) -> None:
    # Never hand out a fresh document for a certificate that no longer holds.
    if record.revoked:
        raise DocumentError(f"certificate {record.number} was revoked: {record.revocation_reason}")
    valid, reason = verify(record.certificate, record.issued.get("proof", {}), KeyRing(settings.key_dir).jwks())
    if not valid:
        raise DocumentError(f"certificate {record.number} does not verify against the key directory: {reason}")


def verification_url(settings: Settings, record: register.Record) -> str:
    """The page the certificate's QR code opens."""
    return page_url(settings.verify_base_url, record.number, record.verification_token)


def certificate_pdf(settings: Settings, record: register.Record, language: Language = "id") -> bytes:
    """The PDF letter of a certificate, in ``language``."""
    _handable(settings, record)
    letterhead = Letterhead(settings.university_name, settings.library_name, settings.timezone)
    url = verification_url(settings, record)
    return render_pdf(record.issued, url=url, letterhead=letterhead, key_id=record.key_id, language=language)


def certificate_credential(settings: Settings, record: register.Record) -> dict[str, Any]:
    """The certificate as a Verifiable Credential, signed now with the current signing key."""
    _handable(settings, record)
    key = KeyRing(settings.key_dir).signing_key(create=False)
    if record.status_index is None:
        raise DocumentError(f"certificate {record.number} has no status list index yet (run `clearance db upgrade`)")
    status = status_entry(settings.verify_base_url, record.status_index, settings.status_list_bits)
    unsecured = unsecured_credential(
        record.certificate, issuer_did=did_web(settings.verify_base_url), issuer_name=settings.library_name,
        status=status,
    )  # fmt: skip
    return sign_credential(unsecured, key, settings.now())


def publish_status_lists(settings: Settings) -> list[int]:
    """Sign and store the status lists whose revocations changed (needs the signing key); their numbers."""
    key = KeyRing(settings.key_dir).signing_key(create=False)
    with Database(settings.database_url) as database, database.sessions() as session:
        changed = status_lists.publish(
            session, base_url=settings.verify_base_url, issuer_did=did_web(settings.verify_base_url),
            issuer_name=settings.library_name, bits=settings.status_list_bits, key=key, now=settings.now(),
        )  # fmt: skip
        session.commit()
    return changed


def write_pdfs(settings: Settings, folder: Path, language: Language = "id") -> list[Path]:
    """One PDF per certificate that is not revoked, named after its number (``/`` as ``_``)."""
    with Database(settings.database_url) as database, database.sessions() as session:
        records = [register.find(session, n) for n in register.numbers(session)]
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for record in records:
        assert record is not None
        path = folder / f"{record.number.replace('/', '_')}.pdf"
        path.write_bytes(certificate_pdf(settings, record, language))
        written.append(path)
    return written
