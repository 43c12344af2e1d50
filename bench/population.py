"""The benchmark's student population: who exists, which cards and loans they hold, how they should end.

Ids are a pure function of a student's index, so the bulk pre-load, the
circulation mix and the applications agree without sharing any state. The
first half of the students is where circulation happens; the second half
applies for graduation, with a state fixed by the pre-load (nine in ten
clear, one in ten blocked by a loan still out).
"""

from __future__ import annotations

from dataclasses import dataclass

CENTRAL = "central"
PARTNER = "partner-ugm"
# (faculty, library, programme, degree level). No programme here requires training under the default
# policy (Teknik Sipil does), so a pre-loaded clear student clears.
PROGRAMMES: tuple[tuple[str, str, str, str], ...] = (
    ("Teknik", "fk-teknik", "Teknik Elektro", "S1"),
    ("Teknik", "fk-teknik", "Teknik Mesin", "D3"),
    ("Kedokteran", "fk-kedokteran", "Pendidikan Dokter", "S1"),
    ("Ekonomi dan Bisnis", "fk-feb", "Akuntansi", "S1"),
    ("Ekonomi dan Bisnis", "fk-feb", "Manajemen", "S2"),
    ("Hukum", "fk-hukum", "Ilmu Hukum", "S1"),
    ("MIPA", "fk-mipa", "Fisika", "S1"),
    ("MIPA", "fk-mipa", "Kimia", "S3"),
    ("Ilmu Budaya", "fk-fib", "Sejarah", "S1"),
)
LOANS_PER_STUDENT = 2


@dataclass(frozen=True, slots=True)
class StudentPlan:
    """One pre-loaded student and the outcome an application of theirs must reach."""

    index: int

    @property
    def student_id(self) -> str:
        return f"S{self.index:07d}"

    @property
    def programme(self) -> tuple[str, str, str, str]:
        return PROGRAMMES[self.index % len(PROGRAMMES)]

    @property
    def faculty_library(self) -> str:
        return self.programme[1]

    @property
    def central_patron(self) -> str:
        return f"C{self.index:07d}"

    @property
    def faculty_patron(self) -> str | None:
        """Seven in ten students hold a faculty library card too."""
        return f"F{self.index:07d}" if self.index % 10 < 7 else None

    @property
    def blocked(self) -> bool:
        """One in ten keeps a pre-loaded loan out, so an application of theirs is blocked."""
        return self.index % 10 == 9

    @property
    def has_fine(self) -> bool:
        """One in four paid a fine in full."""
        return self.index % 4 == 0

    @property
    def deposit_id(self) -> str:
        return f"DEP{self.index:07d}"

    def loan_id(self, j: int) -> str:
        return f"L{self.index:07d}-{j}"


def circulation_students(size: int) -> range:
    """Indexes of the students whose patrons the circulation mix touches."""
    return range(0, max(1, size // 2))


def applicant_students(size: int) -> range:
    """Indexes of the students who apply (never touched by the circulation mix)."""
    return range(max(1, size // 2), size)
