"""The degree level of a thesis, read from what a repository says of it.

ETD-MS 1.0 (``http://www.ndltd.org/standards/metadata/etdms/1.0/``) gives
``degree/level`` as 0 (undergraduate), 1 (master's) or 2 (doctoral); many
repositories write words there instead, or only a degree name ("Sarjana
Teknik", "Magister Manajemen"). Indonesian repositories often say which kind of
final work it is in ``dc:type``: skripsi (S1), tesis (S2), disertasi (S3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from schemas.types import DegreeLevel

_ETDMS_LEVELS = {"0": DegreeLevel.S1, "1": DegreeLevel.S2, "2": DegreeLevel.S3}

# Checked in this order: the more specific first (a "sarjana terapan" is a D4, not an S1;
# "pre-master" and "undergraduate" are not master's).
_WORDS: tuple[tuple[re.Pattern[str], DegreeLevel], ...] = (
    (re.compile(r"\bd-?(iii|3)\b|diplom[ae]? ?(iii|3|tiga)\b|ahli madya"), DegreeLevel.D3),
    (re.compile(r"\bd-?(iv|4)\b|diplom[ae]? ?(iv|4|empat)\b|sarjana terapan"), DegreeLevel.D4),
    (re.compile(r"\bprofesi\b"), DegreeLevel.PROFESI),
    (re.compile(r"\bs-?3\b|strata ?(3|tiga|iii)\b|doctor|doktor|\bph\.? ?d\b|disertasi|dissertation"), DegreeLevel.S3),
    (re.compile(r"\bs-?2\b|strata ?(2|dua|ii)\b|\bmaster|\bmagister|\btesis\b"), DegreeLevel.S2),
    (re.compile(r"\bs-?1\b|strata ?(1|satu|i)\b|bachelor|\bsarjana\b|undergraduate|skripsi"), DegreeLevel.S1),
)

# In dc:type only the Indonesian names of the final work are unambiguous ("thesis" is any level).
_TYPES = {"skripsi": DegreeLevel.S1, "tesis": DegreeLevel.S2, "disertasi": DegreeLevel.S3}


def level_from_words(value: str) -> DegreeLevel | None:
    """The degree level an ETD-MS level or degree name states, or None if it states none this knows."""
    text = value.strip().lower()
    if text in _ETDMS_LEVELS:
        return _ETDMS_LEVELS[text]
    for pattern, level in _WORDS:
        if pattern.search(text):
            return level
    return None


def level_from_type(value: str) -> DegreeLevel | None:
    """The degree level a ``dc:type`` of skripsi, tesis or disertasi implies."""
    words = re.findall(r"[a-z]+", value.lower())
    for word in words:
        if word in _TYPES:
            return _TYPES[word]
    return None


def degree_level(levels: Iterable[str], names: Iterable[str], types: Iterable[str]) -> DegreeLevel | None:
    """The first level found in ETD-MS ``degree/level``, then ``degree/name``, then ``dc:type``."""
    for value in levels:
        if (level := level_from_words(value)) is not None:
            return level
    for value in names:
        if (level := level_from_words(value)) is not None:
            return level
    for value in types:
        if (level := level_from_type(value)) is not None:
            return level
    return None
