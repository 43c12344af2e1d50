"""Certificate numbers: the policy's format, and the counter each number is drawn from."""

from __future__ import annotations

from clearance.domain.policy import Rules


def number_scope(rules: Rules, *, period: str, year: int, faculty: str, program: str, degree: str) -> str:
    """The counter a number is drawn from: every number that differs only in ``seq``."""
    return "certificate:" + rules.certificate_number_format.format(
        period=period, seq=0, year=year, faculty=faculty, program=program, degree=degree
    )


def format_number(rules: Rules, seq: int, *, period: str, year: int, faculty: str, program: str, degree: str) -> str:
    """The certificate number, by the policy's format."""
    return rules.certificate_number_format.format(
        period=period, seq=seq, year=year, faculty=faculty, program=program, degree=degree
    )
