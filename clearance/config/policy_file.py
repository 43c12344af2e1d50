"""Reading a policy file (TOML, SPEC §5) into a :class:`~clearance.domain.policy.Policy`.

A policy is a TOML file with a ``[default]`` table and optional
``[faculties."<faculty>"]`` and ``[faculties."<faculty>".programs."<program>"]``
tables that override it. :func:`load_policy` validates the whole file up
front, so a typo fails at start, not at the first student it concerns.
"""

from __future__ import annotations

import hashlib
import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from clearance.domain.policy import Policy, PolicyError, Rules
from schemas.types import DegreeLevel

_FORMAT_FIELDS = {"period": "2026-2", "seq": 1, "year": 2026, "faculty": "Teknik", "program": "Sipil", "degree": "S1"}


class _Overrides(BaseModel):
    model_config = ConfigDict(extra="forbid")

    loans: bool | None = None
    lost_items: bool | None = None
    fines: bool | None = None
    fine_threshold: Decimal | None = Field(default=None, ge=0)
    deposit: bool | None = None
    deposit_degree_levels: list[DegreeLevel] | None = None
    training: bool | None = None
    training_course: str | None = Field(default=None, min_length=1)
    certificate_number_format: str | None = None
    revoke_on_loan_after_issuance: bool | None = None

    @field_validator("fine_threshold", mode="before")
    @classmethod
    def _threshold_as_string(cls, value: Any) -> Any:
        # Floats would make "0.1" inexact; the contract's amounts are strings.
        if isinstance(value, float):
            raise ValueError('write the threshold as a string, e.g. "5000"')
        return value

    @field_validator("certificate_number_format")
    @classmethod
    def _format_works(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            sample = value.format(**_FORMAT_FIELDS)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"placeholders are {sorted(_FORMAT_FIELDS)}: {exc}") from None
        if "{seq" not in value:
            raise ValueError("the number format must contain {seq} so that numbers are unique")
        if not sample.strip():
            raise ValueError("the number format gives an empty number")
        return value


class _Program(_Overrides):
    pass


class _Faculty(_Overrides):
    programs: dict[str, _Program] = Field(default_factory=dict)


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: _Overrides = Field(default_factory=_Overrides)
    faculties: dict[str, _Faculty] = Field(default_factory=dict)


def _merge(rules: Rules, overrides: _Overrides) -> Rules:
    values = overrides.model_dump(exclude_none=True, exclude={"programs"})
    if "deposit_degree_levels" in values:
        values["deposit_degree_levels"] = frozenset(str(level) for level in values["deposit_degree_levels"])
    fields = {name: getattr(rules, name) for name in Rules.__slots__}
    fields.update(values)
    return Rules(**fields)


def parse_policy(text: str) -> Policy:
    """Parse and validate a policy from TOML text."""
    try:
        raw = tomllib.loads(text)
        parsed = _PolicyFile.model_validate(raw)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy is not valid TOML: {exc}") from None
    except ValidationError as exc:
        raise PolicyError(f"policy is invalid: {exc}") from None
    default = _merge(Rules(), parsed.default)
    faculties = {}
    for name, faculty in parsed.faculties.items():
        faculty_rules = _merge(default, faculty)
        programs = {program: _merge(faculty_rules, overrides) for program, overrides in faculty.programs.items()}
        faculties[name] = (faculty_rules, programs)
    return Policy(default=default, faculties=faculties, digest=hashlib.sha256(text.encode()).hexdigest()[:16])


def default_policy_text() -> str:
    """The built-in default policy, as TOML."""
    return resources.files("clearance.config").joinpath("default_policy.toml").read_text(encoding="utf-8")


def load_policy(path: Path | None) -> Policy:
    """Load the policy from ``path``, or the built-in default when ``path`` is None."""
    if path is None:
        return parse_policy(default_policy_text())
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from None
    return parse_policy(text)
