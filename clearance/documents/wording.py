"""What the PDF certificate and the verification page say, in Indonesian and English."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

Language = Literal["id", "en"]
LANGUAGES: tuple[Language, ...] = ("id", "en")

_MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}  # fmt: skip

# Zone abbreviations Indonesians read on a letter; elsewhere the UTC offset is printed.
_ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}

TEXT: dict[str, dict[Language, str]] = {
    "title": {"id": "SURAT KETERANGAN BEBAS PUSTAKA", "en": "LIBRARY CLEARANCE CERTIFICATE"},
    "number": {"id": "Nomor", "en": "Number"},
    "intro": {
        "id": "Kepala {library} {university} dengan ini menerangkan bahwa:",
        "en": "The Head of {library}, {university}, hereby certifies that",
    },
    "full_name": {"id": "Nama", "en": "Name"},
    "student_id": {"id": "NIM", "en": "Student ID (NIM)"},
    "faculty": {"id": "Fakultas", "en": "Faculty"},
    "program": {"id": "Program studi", "en": "Study programme"},
    "degree_level": {"id": "Jenjang", "en": "Degree level"},
    "graduation_period": {"id": "Periode wisuda", "en": "Graduation period"},
    "statement": {
        "id": "tidak mempunyai pinjaman buku maupun denda yang belum diselesaikan di seluruh perpustakaan "
        "{university}, termasuk pinjaman antarperpustakaan, dan telah menyerahkan karya akhir yang telah "
        "diterima oleh perpustakaan (nomor penyerahan {deposit_id}).",
        "en": "has no outstanding loans and no unpaid fines at any library of {university}, inter-library "
        "loans included, and has deposited the final work, which the library has accepted "
        "(deposit {deposit_id}).",
    },
    "statement_no_deposit": {
        "id": "tidak mempunyai pinjaman buku maupun denda yang belum diselesaikan di seluruh perpustakaan "
        "{university}, termasuk pinjaman antarperpustakaan.",
        "en": "has no outstanding loans and no unpaid fines at any library of {university}, inter-library "
        "loans included.",
    },
    "purpose": {
        "id": "Surat keterangan ini dibuat sebagai syarat pendaftaran wisuda.",
        "en": "This certificate is issued as a requirement for graduation.",
    },
    "issued": {"id": "Diterbitkan", "en": "Issued"},
    "signed": {
        "id": "Ditandatangani secara elektronik (Ed25519, kunci {key_id}) oleh {library}. Tidak memerlukan "
        "tanda tangan basah maupun stempel. Pindai kode QR untuk memeriksa keabsahannya.",
        "en": "Signed electronically (Ed25519, key {key_id}) by {library}. No handwritten signature or stamp "
        "is needed. Scan the QR code to check that it is valid.",
    },
    "verify_at": {"id": "Periksa keabsahan", "en": "Check validity"},
    "valid": {"id": "SAH", "en": "VALID"},
    "valid_detail": {
        "id": "Surat keterangan bebas pustaka ini sah dan tercatat di {library}.",
        "en": "This library clearance certificate is valid and on record at {library}.",
    },
    "revoked": {"id": "DICABUT", "en": "REVOKED"},
    "revoked_detail": {
        "id": "Surat keterangan ini telah dicabut pada {when}. Alasan: {reason}.",
        "en": "This certificate was revoked on {when}. Reason: {reason}.",
    },
    "invalid": {"id": "TIDAK SAH", "en": "NOT VALID"},
    "invalid_detail": {
        "id": "Tanda tangan surat keterangan ini tidak dapat dibuktikan: {reason}.",
        "en": "The signature of this certificate cannot be confirmed: {reason}.",
    },
    "not_found": {"id": "Tidak ditemukan", "en": "Not found"},
    "not_found_detail": {
        "id": "Tidak ada surat keterangan pada alamat ini. Pindai ulang kode QR pada surat Anda.",
        "en": "There is no certificate at this address. Scan the QR code on the certificate again.",
    },
    "key": {"id": "Kunci tanda tangan", "en": "Signing key"},
    "offline": {
        "id": "Pemeriksaan tanpa layanan ini: kunci publik di",
        "en": "To check without this service, the public keys are at",
    },
}


def say(key: str, language: Language, **values: str) -> str:
    """The text ``key`` in ``language``, with ``values`` filled in."""
    return TEXT[key][language].format(**values)


def date_text(moment: datetime, language: Language, zone: str) -> str:
    """A date and time as a letter writes it: ``24 November 2026, 10.00 WIB`` / ``24 November 2026, 10:00 WIB``."""
    local = moment.astimezone(ZoneInfo(zone))
    month = _MONTHS[language][local.month - 1]
    clock = f"{local.hour:02d}.{local.minute:02d}" if language == "id" else f"{local.hour:02d}:{local.minute:02d}"
    offset = local.strftime("%z")
    label = _ZONE_NAMES.get(zone) or f"UTC{offset[:3]}:{offset[3:]}"
    return f"{local.day} {month} {local.year}, {clock} {label}"
