"""The PDF letter embeds every font it uses, and breaks a long verification URL after a / or ?."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
from services import unavailable

from clearance.documents.pdf import Letterhead, _fonts, render_pdf, url_lines

TOKEN = "JlM3vgvhoAunPiACK5utD3S5VviFCRQlX-Rb3dg1O7E"
LONG_URL = (
    "https://bebaspustaka.perpustakaan.universitas-nusantara.example.ac.id/verifikasi/c/BP/2026-2/0000001?t=" + TOKEN
)
ISSUED = {
    "certificate": {
        "number": "BP/2026-2/0000001", "full_name": "Nguyễn Thị Ŀan Şükrü", "student_id": "2019100123",
        "faculty": "Teknik", "program": "Teknik Sipil", "degree_level": "S1", "graduation_period": "2026-2",
        "issued_at": "2026-11-24T10:00:02+07:00", "basis": {"deposit_id": "DEP-2019100123"},
    },
    "proof": {},
}  # fmt: skip


@pytest.fixture(scope="module")
def letter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if _fonts()[0] != "DejaVuSerif":
        unavailable("DejaVu Serif (Debian's fonts-dejavu-core); install it with .ci/setup.d/fonts-dejavu.sh")
    path = tmp_path_factory.mktemp("letter") / "letter.pdf"
    letterhead = Letterhead("Universitas Nusantara", "UPT Perpustakaan", "Asia/Jakarta")
    path.write_bytes(render_pdf(ISSUED, url=LONG_URL, letterhead=letterhead, key_id="2026-1"))
    return path


def _used_fonts(path: Path) -> dict[str, bool]:
    """Base font name -> embedded, for every text object on the first page (as pdfium reads them)."""
    page = pdfium.PdfDocument(path)[0]
    fonts = {}
    for item in page.get_objects(filter=[pdfium_raw.FPDF_PAGEOBJ_TEXT]):
        font = pdfium_raw.FPDFTextObj_GetFont(item.raw)
        size = pdfium_raw.FPDFFont_GetBaseFontName(font, None, 0)
        buffer = ctypes.create_string_buffer(size)
        pdfium_raw.FPDFFont_GetBaseFontName(font, buffer, size)
        fonts[buffer.value.decode()] = bool(pdfium_raw.FPDFFont_GetIsEmbedded(font))
    return fonts


def test_every_font_the_letter_sets_text_in_is_embedded(letter: Path) -> None:
    fonts = _used_fonts(letter)
    assert fonts, "no text found on the letter"
    assert all(fonts.values()), fonts


def test_the_letter_names_no_font_it_does_not_embed(letter: Path) -> None:
    # A font dictionary without a font file (reportlab's default Helvetica) is left to the reader to substitute.
    raw = letter.read_bytes()
    names = re.findall(rb"/BaseFont\s*/([^\s/>]+)", raw)
    assert names and all(re.match(rb"[A-Z]{6}\+", name) for name in names), names
    assert raw.count(b"/FontFile2") == len(set(names))


def test_the_letter_breaks_its_verification_url_after_a_slash_or_question_mark(letter: Path) -> None:
    text = pdfium.PdfDocument(letter)[0].get_textpage().get_text_range()
    start = text.index("https://")
    lines = text[start:].replace("\r", "").split("\n")
    url = ""
    for line in lines:
        url += line.strip()
        if url == LONG_URL:
            break
        assert line.strip()[-1] in "/?", f"a line of the URL ends inside a part: {line!r}"
    assert url == LONG_URL


def test_url_lines_put_together_give_the_url_back() -> None:
    lines = url_lines(LONG_URL, "Times-Roman", 8.5, 200)
    assert "".join(lines) == LONG_URL
    assert len(lines) > 1


def test_url_lines_keep_a_url_that_fits_on_one_line() -> None:
    assert url_lines("http://localhost:8000/c/x", "Times-Roman", 8.5, 300) == ["http://localhost:8000/c/x"]


def test_a_token_longer_than_a_line_is_cut_where_the_line_ends() -> None:
    lines = url_lines("http://x/?t=" + "a" * 400, "Times-Roman", 8.5, 100)
    assert lines[0] == "http://x/?"
    assert "".join(lines) == "http://x/?t=" + "a" * 400
    assert all(len(line) > 1 for line in lines)
