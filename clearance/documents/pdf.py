"""The certificate as an A4 PDF letter, with a QR code that opens its verification page.

Text is real PDF text (selectable and searchable), set in DejaVu Serif when the
system has it, so that names beyond Latin-1 print correctly; the font is embedded
(as a subset), so the letter looks the same on every reader. Without DejaVu it falls
back to the built-in Times, which readers substitute. Indonesian by default, English
on request. The verification URL is broken after a ``/``, ``?`` or ``&`` when it is
longer than its column, never inside the token when it can be helped.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import qrcode
import structlog
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import HRFlowable, Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from clearance.documents.wording import Language, date_text, say

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"), Path("/Library/Fonts"))
log = structlog.get_logger("clearance.documents")
_URL_BREAKS = re.compile(r"(?<=[/?&])")
_FIELDS = ("full_name", "student_id", "faculty", "program", "degree_level", "graduation_period")


@dataclass(frozen=True, slots=True)
class Letterhead:
    """Who issues the letter, and where its page is."""

    university: str
    library: str
    zone: str


def _fonts() -> tuple[str, str]:
    """(regular, bold) font names, registering DejaVu Serif once if it is installed."""
    if "DejaVuSerif" in pdfmetrics.getRegisteredFontNames():
        return "DejaVuSerif", "DejaVuSerif-Bold"
    for folder in _FONT_DIRS:
        regular, bold = folder / "DejaVuSerif.ttf", folder / "DejaVuSerif-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdfmetrics.registerFont(TTFont("DejaVuSerif", str(regular)))
            pdfmetrics.registerFont(TTFont("DejaVuSerif-Bold", str(bold)))
            return "DejaVuSerif", "DejaVuSerif-Bold"
    log.warning("pdf_font_missing", wanted="DejaVu Serif", using="Times, not embedded", fix="fonts-dejavu-core")
    return "Times-Roman", "Times-Bold"


def url_lines(url: str, font: str, size: float, width: float) -> list[str]:
    """``url`` cut into lines no wider than ``width`` points, after a ``/``, ``?`` or ``&`` where possible.

    A piece longer than a whole line (a long token) is cut where the line ends.
    """
    lines: list[str] = []
    line = ""
    for piece in (p for p in _URL_BREAKS.split(url) if p):
        if line and pdfmetrics.stringWidth(line + piece, font, size) > width:
            lines.append(line)
            line = ""
        while pdfmetrics.stringWidth(line + piece, font, size) > width:
            fits = max(1, _fitting(line, piece, font, size, width))
            if not line and fits >= len(piece):
                break
            lines.append(line + piece[:fits])
            line, piece = "", piece[fits:]
        line += piece
    if line:
        lines.append(line)
    return lines


def _fitting(line: str, piece: str, font: str, size: float, width: float) -> int:
    """How many characters of ``piece`` still fit after ``line``."""
    count = 0
    while count < len(piece) and pdfmetrics.stringWidth(line + piece[: count + 1], font, size) <= width:
        count += 1
    return count


def _qr_image(url: str, size: float) -> Image:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(url)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    buffer.seek(0)
    return Image(buffer, width=size, height=size)


def render_pdf(
    issued: dict[str, Any], *, url: str, letterhead: Letterhead, key_id: str, language: Language = "id"
) -> bytes:
    """The PDF of a certificate (``issued``: the certificate and its proof) whose QR code holds ``url``."""
    certificate = issued["certificate"]
    regular, bold = _fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=11, leading=15)
    centred = ParagraphStyle("centred", parent=base, alignment=TA_CENTER)
    styles = {
        "university": ParagraphStyle("university", parent=centred, fontName=bold, fontSize=16, leading=20),
        "library": ParagraphStyle("library", parent=centred, fontSize=13, leading=17),
        "title": ParagraphStyle("title", parent=centred, fontName=bold, fontSize=14, leading=18, spaceBefore=14),
        "number": ParagraphStyle("number", parent=centred, spaceAfter=14),
        "body": ParagraphStyle("body", parent=base, alignment=TA_LEFT, spaceAfter=8),
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=11),
    }
    values = {"university": escape(letterhead.university), "library": escape(letterhead.library)}
    deposit = certificate.get("basis", {}).get("deposit_id")
    statement = (
        say("statement", language, deposit_id=escape(deposit), **values)
        if deposit
        else say("statement_no_deposit", language, **values)
    )
    issued_at = datetime.fromisoformat(certificate["issued_at"])

    story: list[Flowable] = [
        Paragraph(values["university"], styles["university"]),
        Paragraph(values["library"], styles["library"]),
        Spacer(1, 4),
        HRFlowable(width="100%", thickness=1.2, color=colors.black),
        Paragraph(f"<u>{say('title', language)}</u>", styles["title"]),
        Paragraph(f"{say('number', language)}: {escape(certificate['number'])}", styles["number"]),
        Paragraph(say("intro", language, **values), styles["body"]),
    ]
    rows = [
        [Paragraph(text, base) for text in (say(field, language), ":", escape(str(certificate.get(field, ""))))]
        for field in _FIELDS
    ]
    details = Table(rows, colWidths=[4.2 * cm, 0.4 * cm, 11 * cm], hAlign="LEFT")
    everywhere = ((0, 0), (-1, -1))
    details.setStyle(
        TableStyle(
            [
                ("VALIGN", *everywhere, "TOP"),
                ("LEFTPADDING", *everywhere, 0),
                ("BOTTOMPADDING", *everywhere, 2),
                ("FONTNAME", *everywhere, regular),  # a table's own default is Helvetica, which is never embedded
            ]
        )
    )
    story += [
        details,
        Spacer(1, 10),
        Paragraph(statement, styles["body"]),
        Paragraph(say("purpose", language), styles["body"]),
        Spacer(1, 6),
        Paragraph(f"{say('issued', language)}: {date_text(issued_at, language, letterhead.zone)}", base),
        Spacer(1, 26),
    ]
    qr_size, note_width = 4.2 * cm, 11.6 * cm
    # The cell keeps its default right padding (6 pt); a little more is left for rounding.
    lines = url_lines(url, regular, styles["small"].fontSize, note_width - 8)
    note = [
        Paragraph(say("signed", language, key_id=escape(key_id), library=values["library"]), styles["small"]),
        Spacer(1, 6),
        Paragraph(f"{say('verify_at', language)}:<br/>" + "<br/>".join(escape(x) for x in lines), styles["small"]),
    ]
    footer = Table([[_qr_image(url, qr_size), note]], colWidths=[qr_size + 0.4 * cm, note_width], hAlign="LEFT")
    footer.setStyle(
        TableStyle(
            [("VALIGN", *everywhere, "MIDDLE"), ("LEFTPADDING", *everywhere, 0), ("FONTNAME", *everywhere, regular)]
        )
    )
    story.append(footer)

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=2.5 * cm,
        rightMargin=2.5 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
        title=f"{say('title', language)} {certificate['number']}",
        author=letterhead.library,
        subject=f"{certificate.get('full_name', '')} ({certificate.get('student_id', '')})",
        creator="graduation-clearance",
        lang=language,
        initialFontName=regular,  # else every page names Helvetica, a font the letter never embeds
    )
    document.build(story)
    return buffer.getvalue()
