"""The PDF letter: A4, selectable text with everything the academic office checks, a QR code to its page."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
from click.testing import CliRunner

from clearance.cli.main import main
from clearance.domain.page_token import page_url
from clearance.verification.letters import verification_url, write_pdfs

A4_POINTS = (595.28, 841.89)


def _pdf(number: str, env: dict[str, str], out: Path, *extra: str) -> pdfium.PdfDocument:
    result = CliRunner().invoke(main, ["certificate", "pdf", number, "-o", str(out), *extra], env=env)
    assert result.exit_code == 0, result.output
    return pdfium.PdfDocument(out)


def _text(document: pdfium.PdfDocument) -> str:
    return " ".join(document[0].get_textpage().get_text_range().split())


def _qr(document: pdfium.PdfDocument) -> str:
    """What the page's QR code holds, read as a phone's scanner would: more than one reader, more than one size.

    OpenCV's classic detector misses about one code in forty of these pages (measured over 150 random
    verification URLs); its ArUco-based detector read all of them. Either reading counts.
    """
    for scale in (3, 4):  # 216 and 288 dpi
        image = np.array(document[0].render(scale=scale).to_pil().convert("L"))
        for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
            decoded, points, _ = detector.detectAndDecode(image)
            if points is not None and decoded:
                return decoded
    raise AssertionError("no QR code found on the page")


def test_the_pdf_is_one_a4_page(issuer, cli_env, tmp_path) -> None:
    document = _pdf(issuer.clear(), cli_env, tmp_path / "c.pdf")
    assert len(document) == 1
    width, height = document[0].get_size()
    assert (round(width, 1), round(height, 1)) == (round(A4_POINTS[0], 1), round(A4_POINTS[1], 1))


def test_the_qr_code_decodes_to_the_verification_page_with_its_token(issuer, settings, cli_env, tmp_path) -> None:
    number = issuer.clear()
    record = issuer.record(number)
    expected = page_url(settings.verify_base_url, number, record.verification_token)
    assert expected == verification_url(settings, record)
    assert expected.startswith("http://verify.test/c/BP/2026-2/0000001?t=")
    assert _qr(_pdf(number, cli_env, tmp_path / "c.pdf")) == expected


def test_the_text_is_selectable_and_in_indonesian_by_default(issuer, settings, cli_env, tmp_path) -> None:
    number = issuer.clear()
    text = _text(_pdf(number, cli_env, tmp_path / "c.pdf"))
    for expected in (
        settings.university_name, settings.library_name, "SURAT KETERANGAN BEBAS PUSTAKA", f"Nomor: {number}",
        "Siti Rahmawati", "NIM : 2019100123", "Fakultas : Teknik", "Program studi : Teknik Sipil",
        "Periode wisuda : 2026-2", "tidak mempunyai pinjaman buku maupun denda",
        "telah menyerahkan karya akhir", "DEP-2019100123", "Diterbitkan: 24 November 2026",
    ):  # fmt: skip
        assert expected in text, expected


def test_english_on_request(issuer, settings, cli_env, tmp_path) -> None:
    number = issuer.clear()
    text = _text(_pdf(number, cli_env, tmp_path / "c.pdf", "--lang", "en"))
    for expected in (
        "LIBRARY CLEARANCE CERTIFICATE", f"Number: {number}", "has no outstanding loans and no unpaid fines",
        "deposit DEP-2019100123", "Issued: 24 November 2026", "Student ID (NIM) : 2019100123",
    ):  # fmt: skip
        assert expected in text, expected
    assert _qr(pdfium.PdfDocument(tmp_path / "c.pdf")).endswith(issuer.record(number).verification_token)


def test_a_name_beyond_latin_1_prints_as_written(issuer, cli_env, tmp_path) -> None:
    number = issuer.clear("2019100777", "Nguyễn Thị Ŀan Şükrü")
    assert "Nguyễn Thị Ŀan Şükrü" in _text(_pdf(number, cli_env, tmp_path / "c.pdf"))


def test_the_demo_writes_one_pdf_per_certificate_that_holds(issuer, settings, tmp_path) -> None:
    kept = issuer.clear("2019100001", "Siti Rahmawati")
    issuer.clear("2019100002", "Budi Santoso")
    issuer.withdraw("2019100002")
    written = write_pdfs(settings, tmp_path / "certificates")
    assert [p.name for p in written] == [kept.replace("/", "_") + ".pdf"]
    assert _qr(pdfium.PdfDocument(written[0])) == verification_url(settings, issuer.record(kept))
