"""RFC 8785 (JCS) canonical JSON, the bytes every signature of the service covers (G8).

``rfc8785`` is the reference: pure Python, 45 µs for a certificate on its
own and about 125 µs inside the busy service, a tenth of a decision's cost
(orjson's path: 14 µs). For the JSON the service signs
(ASCII keys, text without control characters, integers a double holds
exactly, no floats) JCS is exactly what ``orjson`` writes with sorted keys:
the same separators, the same two escapes (``"`` and ``\\``), every other
character as itself in UTF-8, and keys in the same order (UTF-16 and byte
order agree on ASCII). Anything else (a float, a control character, a key
beyond ASCII, a large integer) goes to ``rfc8785``; a property test holds
the two to the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import rfc8785

# Integers JCS writes as they are: those an IEEE 754 double holds exactly.
_SAFE = 2**53 - 1
_CONTROL = frozenset(chr(c) for c in range(0x20))


def canonical(document: Mapping[str, Any]) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON object."""
    if _plain(document):
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return rfc8785.dumps(document)


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only what orjson writes exactly as JCS does."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if not _text(item):
                return False
        elif kind is dict:
            for key in item:
                if type(key) is not str or not key.isascii() or not _text(key):
                    return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is int:
            if not -_SAFE <= item <= _SAFE:
                return False
        elif item is None or kind is bool:
            continue
        else:  # floats, and anything rfc8785 should judge itself
            return False
    return True


def _text(text: str) -> bool:
    # Control characters have short or \\u escapes whose spelling may differ; a lone surrogate is no text.
    if _CONTROL.isdisjoint(text):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    return False
