"""Reading Markdown for the documentation tests: headings and their anchors, sections, tables, links.

Only what the repository's own documents use is understood: ATX headings, fenced code blocks,
inline and reference links, pipe tables. Anchors follow GitHub's rule (lower case, punctuation
dropped, spaces to hyphens, ``-1``, ``-2`` … for repeats).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"`+[^`]*`+")
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")


@dataclass(frozen=True, slots=True)
class Section:
    """A heading and the lines up to the next heading of any level."""

    level: int
    title: str
    lines: tuple[str, ...]


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of every line outside fenced code blocks."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opened = _FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            yield number, line


def slug(title: str) -> str:
    """The anchor GitHub gives a heading (before de-duplication)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a document, repeats numbered as GitHub numbers them."""
    seen: dict[str, int] = {}
    result = set()
    for _, line in prose_lines(text):
        heading = _HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def sections(text: str) -> list[Section]:
    """The document cut at every heading."""
    result: list[Section] = []
    current: tuple[int, str] | None = None
    body: list[str] = []
    for _, line in prose_lines(text):
        heading = _HEADING.match(line)
        if heading is None:
            body.append(line)
            continue
        if current is not None:
            result.append(Section(current[0], current[1], tuple(body)))
        current, body = (len(heading.group(1)), heading.group(2)), []
    if current is not None:
        result.append(Section(current[0], current[1], tuple(body)))
    return result


def first_code_span(text: str) -> str | None:
    """The content of the first `code span` in ``text``."""
    match = re.search(r"`([^`]+)`", text)
    return match.group(1) if match else None


def table_rows(lines: tuple[str, ...]) -> list[list[str]]:
    """The body rows (cells stripped) of the first pipe table in ``lines``; header and rule left out."""
    rows: list[list[str]] = []
    for line in lines:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    return rows[2:]


def links(text: str) -> Iterator[tuple[int, str]]:
    """(line number, target) of every inline link, image and reference definition outside code."""
    for number, line in prose_lines(text):
        definition = _REFERENCE_DEFINITION.match(line)
        if definition:
            yield number, definition.group(1)
            continue
        for match in _INLINE_LINK.finditer(_CODE_SPAN.sub("``", line)):
            yield number, match.group(1)


def broken_links(document: Path, root: Path) -> list[str]:
    """Every relative link of ``document`` that leaves ``root``, points at nothing, or at a missing heading."""
    text = document.read_text(encoding="utf-8")
    problems = []
    for number, target in links(text):
        if _SCHEME.match(target):
            continue
        path_part, _, fragment = target.partition("#")
        where = f"{document.relative_to(root)}:{number}: {target}"
        if not path_part:
            resolved = document
        elif path_part.startswith("/"):
            resolved = (root / unquote(path_part).lstrip("/")).resolve()
        else:
            resolved = (document.parent / unquote(path_part)).resolve()
        if not resolved.is_relative_to(root.resolve()):
            problems.append(f"{where} leaves the repository")
        elif not resolved.exists():
            problems.append(f"{where} points at a file that does not exist")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved.read_text(encoding="utf-8")):
            problems.append(f"{where} names no heading of {resolved.relative_to(root.resolve())}")
    return problems


def markdown_files(root: Path) -> list[Path]:
    """Every Markdown file of the repository, leaving out hidden folders, dependencies and build output."""
    skipped = {"node_modules", "build", "dist", "venv"}
    return sorted(
        path
        for path in root.rglob("*.md")
        if not any(
            part.startswith(".") or part in skipped or part.endswith(".egg-info")
            for part in path.relative_to(root).parts[:-1]
        )
    )
