"""Reading the trust file (TOML, SPEC §7) into a :class:`~clearance.domain.trust.TrustPolicy`.

```toml
[[rule]]
topic = "library.circulation.fk-teknik"
sources = ["urn:library:fk-teknik"]
types = ["library.*"]
library_ids = ["fk-teknik"]

[[rule]]
topic = "thesis.deposits.etd"
sources = ["urn:repository:etd"]
types = ["thesis.deposit.*"]

[[rule]]
topic = "graduation.applications.registrar"
sources = ["urn:academic:*"]
types = ["graduation.application.*"]
```

Every key is checked at start: an unknown one, a missing one or a value of the
wrong type is a one-line :class:`TrustFileError`, not a surprise at the first
event it concerns.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clearance.domain.trust import TrustPolicy, TrustRule


class TrustFileError(ValueError):
    """The trust file is unreadable or says something the service cannot apply."""


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    topic: str = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    types: list[str] = Field(min_length=1)
    library_ids: list[str] = Field(default_factory=list)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: list[_Rule] = Field(min_length=1)


def _describe(exc: ValidationError) -> str:
    # An unknown key says more about the mistake (a typo) than the missing key it stands for.
    first = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    where = ".".join(str(part) for part in first["loc"])
    what = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    return f"{where}: {what}" + (f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else "")


def parse_trust(text: str, origin: str = "trust file") -> TrustPolicy:
    """Parse and validate a trust file's TOML text."""
    try:
        parsed = _File.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise TrustFileError(f"{origin} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        raise TrustFileError(f"{origin} is invalid: {_describe(exc)}") from None
    return TrustPolicy(
        tuple(
            TrustRule(r.topic, tuple(r.sources), tuple(r.types), tuple(r.library_ids)) for r in parsed.rule
        )
    )


def load_trust(path: Path | None) -> TrustPolicy | None:
    """The trust policy in ``path``; None (the service runs open) when no file is configured."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrustFileError(f"cannot read trust file {path}: {exc.strerror or exc}") from None
    return parse_trust(text, origin=f"trust file {path}")
