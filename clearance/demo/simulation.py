"""A simulated graduation period: the events academic units, libraries and the deposit desk send.

Every student is drawn into a *case* (clear, blocked for a loan, cleared later
after paying, ...) and the simulation knows the outcome the service must reach,
so the demo can check the service against it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from clearance.demo.eventfactory import EventFactory

WIB = timezone(timedelta(hours=7))
PERIOD = "2026-2"

FACULTIES: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    # faculty: (code, library, [(programme, degree level)])
    "Teknik": ("01", "fk-teknik", [("Teknik Sipil", "S1"), ("Teknik Elektro", "S1"), ("Teknik Mesin", "D3")]),
    "Kedokteran": ("02", "fk-kedokteran", [("Pendidikan Dokter", "S1"), ("Profesi Dokter", "profesi")]),
    "Ekonomi dan Bisnis": ("03", "fk-feb", [("Akuntansi", "S1"), ("Manajemen", "S2")]),
    "Hukum": ("04", "fk-hukum", [("Ilmu Hukum", "S1"), ("Kenotariatan", "S2")]),
    "MIPA": ("05", "fk-mipa", [("Fisika", "S1"), ("Matematika", "S1"), ("Kimia", "S3")]),
    "Ilmu Budaya": ("06", "fk-fib", [("Sastra Jawa", "S1"), ("Sejarah", "S1")]),
}
PARTNER = "partner-ugm"

GIVEN = [
    "Siti", "Budi", "Dewi", "Agus", "Rina", "Andi", "Putri", "Rizky", "Nur", "Ahmad", "Ayu", "Dimas", "Fitri",
    "Hendra", "Indah", "Joko", "Kartika", "Lestari", "Made", "Nyoman", "Oktaviani", "Prasetyo", "Ratna", "Wahyu",
]  # fmt: skip
FAMILY = [
    "Rahmawati", "Santoso", "Wijaya", "Saputra", "Pratama", "Hidayat", "Kusuma", "Nugroho", "Lestari", "Siregar",
    "Nasution", "Simanjuntak", "Sihombing", "Wibowo", "Gunawan", "Setiawan", "Ma'ruf", "Hutagalung",
]  # fmt: skip
ONE_WORD = ["Sukarno", "Sutrisno", "Mulyono", "Suharti", "Paryono", "Wagiman"]
TITLES = [
    "Mekanika Fluida", "Kalkulus Lanjut", "Pengantar Ilmu Hukum", "Fisika Dasar", "Anatomi Manusia",
    "Akuntansi Keuangan", "Sejarah Indonesia Modern", "Kimia Organik", "Metodologi Penelitian", "Serat Centhini",
]  # fmt: skip

# (case, weight): what happens to a student in this graduation period.
CASES: list[tuple[str, int]] = [
    ("clear", 62),
    ("blocked_loan", 6),
    ("blocked_lost", 3),
    ("blocked_fine", 5),
    ("blocked_no_deposit", 4),
    ("blocked_rejected", 3),
    ("blocked_interlibrary", 2),
    ("later_return", 5),
    ("later_payment", 4),
    ("later_deposit", 3),
    ("late_link", 2),
    ("withdrawn_before", 1),
    ("withdrawn_after", 1),
]

# Two students every demo has, whatever its size and seed, so that the README can name them:
# (student id, name, faculty, programme, degree level, case). Their ids use faculty code 10,
# which no drawn student has. The first one's application is decided before any other
# (clearance/demo/run.py), so her certificate is always BP/2026-2/0000001.
SHOWCASE: list[tuple[str, str, str, str, str, str]] = [
    ("2019100123", "Siti Rahmawati", "Teknik", "Teknik Sipil", "S1", "clear"),
    ("2020100045", "Budi Santoso", "Teknik", "Teknik Elektro", "S1", "blocked_loan"),
]

# The codes each blocked case must end with.
BLOCKING_REASONS = {
    "blocked_loan": {"OUTSTANDING_LOAN"},
    "blocked_lost": {"LOST_ITEM"},
    "blocked_fine": {"UNPAID_FINES"},
    "blocked_no_deposit": {"THESIS_NOT_DEPOSITED"},
    "blocked_rejected": {"THESIS_REJECTED"},
    "blocked_interlibrary": {"OUTSTANDING_LOAN"},
    "late_link": {"OUTSTANDING_LOAN"},
}


@dataclass(frozen=True)
class Student:
    """A simulated student and what the service must conclude about them."""

    student_id: str
    application_id: str
    full_name: str
    faculty: str
    program: str
    degree_level: str
    case: str

    @property
    def expected_status(self) -> str:
        if self.case.startswith("withdrawn"):
            return "withdrawn"
        return "blocked" if self.case in BLOCKING_REASONS else "cleared"

    @property
    def expected_reasons(self) -> set[str]:
        return BLOCKING_REASONS.get(self.case, set())

    @property
    def blocked_first(self) -> bool:
        """Blocked after phase 1, then cleared by what phase 2 brings."""
        return self.case.startswith("later_")


@dataclass
class GraduationPeriod:
    """The events of a simulated period, in two phases, and the students they concern."""

    students: list[Student] = field(default_factory=list)
    phase1: list[dict[str, Any]] = field(default_factory=list)
    phase2: list[dict[str, Any]] = field(default_factory=list)


class _Simulator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.start = datetime(2026, 8, 3, 8, 0, tzinfo=WIB)
        self.deadline = datetime(2026, 11, 20, 9, 0, tzinfo=WIB)
        self.registrar = EventFactory("urn:registrar:bagian-akademik", lambda: self.deadline)
        self.desk = EventFactory("urn:repository:deposit-desk", lambda: self.deadline)
        self.libraries: dict[str, EventFactory] = {}
        self.loan_seq = 0

    def library(self, library_id: str) -> EventFactory:
        if library_id not in self.libraries:
            self.libraries[library_id] = EventFactory(f"urn:library:{library_id}", lambda: self.deadline)
        return self.libraries[library_id]

    def moment(self, earliest: datetime, latest: datetime) -> datetime:
        span = int((latest - earliest).total_seconds())
        return earliest + timedelta(seconds=self.rng.randrange(max(span, 1)))

    def name(self) -> str:
        if self.rng.random() < 0.08:
            return self.rng.choice(ONE_WORD)
        return f"{self.rng.choice(GIVEN)} {self.rng.choice(FAMILY)}"

    def loan(self, library_id: str, patron: str, *, returned: bool, interlibrary: bool = False) -> tuple[str, list]:
        self.loan_seq += 1
        loan_id = f"LN{self.loan_seq:06d}"
        lib = self.library(library_id)
        borrowed = self.moment(self.start, self.deadline - timedelta(days=30))
        due = borrowed + timedelta(days=14)
        events = [
            lib.loan_opened(
                library_id, loan_id, patron, item_id=f"B{self.rng.randrange(10**7):07d}",
                title=self.rng.choice(TITLES), borrowed_at=borrowed, due_at=due, time=borrowed,
                interlibrary=True if interlibrary else None,
            )
        ]  # fmt: skip
        if self.rng.random() < 0.3:
            renewed = borrowed + timedelta(days=12)
            events.append(lib.loan_renewed(library_id, loan_id, patron, due + timedelta(days=14), time=renewed))
        if returned:
            back = borrowed + timedelta(days=self.rng.randrange(3, 25))
            events.append(lib.loan_returned(library_id, loan_id, patron, back, time=back))
        return loan_id, events


def simulate(students: int, seed: int) -> GraduationPeriod:
    """Draw a graduation period of ``students`` applicants: the showcase students first, then drawn ones.

    Every case appears at least once when there are enough students.
    """
    sim = _Simulator(seed)
    rng = sim.rng
    period = GraduationPeriod()
    showcase = SHOWCASE[: max(0, students)]
    for index, (student_id, full_name, faculty, program, degree, case) in enumerate(showcase):
        student = Student(
            student_id=student_id, application_id=f"APP-{PERIOD}-{index + 1:04d}", full_name=full_name,
            faculty=faculty, program=program, degree_level=degree, case=case,
        )  # fmt: skip
        period.students.append(student)
        _student_events(sim, student, FACULTIES[faculty][1], period)
    drawn = max(0, students - len(showcase))
    names, weights = zip(*CASES, strict=True)
    cases = list(names[: min(drawn, len(names))])
    cases += rng.choices(names, weights=weights, k=max(0, drawn - len(cases)))
    rng.shuffle(cases)
    counters: dict[str, int] = {}
    for index, case in enumerate(cases, start=len(showcase)):
        faculty = rng.choice(list(FACULTIES))
        code, faculty_library, programmes = FACULTIES[faculty]
        program, degree = rng.choice(programmes)
        if case in ("blocked_no_deposit", "blocked_rejected", "later_deposit", "late_link") and degree == "profesi":
            program, degree = programmes[0]  # a deposit case needs a degree level that requires one
        counters[code] = counters.get(code, 0) + 1
        student_id = f"20{rng.randrange(19, 23)}{code}{counters[code]:04d}"
        student = Student(
            student_id=student_id, application_id=f"APP-{PERIOD}-{index + 1:04d}", full_name=sim.name(),
            faculty=faculty, program=program, degree_level=degree, case=case,
        )  # fmt: skip
        period.students.append(student)
        _student_events(sim, student, faculty_library, period)
    return period


def _student_events(sim: _Simulator, s: Student, faculty_library: str, period: GraduationPeriod) -> None:
    rng, case = sim.rng, s.case
    p1, p2 = period.phase1, period.phase2
    central = sim.library("central")
    central_patron, faculty_patron = f"C-{s.student_id}", f"F{rng.randrange(10**6):06d}"
    p1.append(central.patron_linked("central", central_patron, s.student_id, time=sim.start))
    has_faculty_card = rng.random() < 0.7 or case in ("blocked_loan", "later_return", "withdrawn_before")
    if has_faculty_card:
        fac = sim.library(faculty_library)
        p1.append(fac.patron_linked(faculty_library, faculty_patron, s.student_id, time=sim.start))
    # Ordinary history: loans that came back, a fine that was paid.
    for _ in range(rng.randrange(1, 4)):
        library_id, patron = (
            (faculty_library, faculty_patron)
            if has_faculty_card and rng.random() < 0.5
            else ("central", central_patron)
        )
        p1.extend(sim.loan(library_id, patron, returned=True)[1])
    if rng.random() < 0.25:
        fine_id = f"FN-{s.student_id}-0"
        at = sim.moment(sim.start, sim.deadline - timedelta(days=20))
        p1.append(central.fine_assessed("central", fine_id, central_patron, "5000", time=at))
        p1.append(central.fine_paid("central", fine_id, central_patron, "5000", time=at + timedelta(days=2)))

    deposit_id = f"DEP-{s.student_id}"
    needs_deposit = s.degree_level != "profesi"
    submitted = sim.deadline - timedelta(days=rng.randrange(10, 40))
    title = f"Skripsi {rng.choice(TITLES)}"
    if needs_deposit and case not in ("blocked_no_deposit", "late_link"):
        p1.append(sim.desk.deposit_submitted(deposit_id, s.student_id, title, s.degree_level, time=submitted))
        if case in ("blocked_rejected", "later_deposit"):
            p1.append(sim.desk.deposit_rejected(deposit_id, s.student_id, "format tidak sesuai pedoman",
                                                time=submitted + timedelta(days=2)))  # fmt: skip
        else:
            p1.append(sim.desk.deposit_accepted(deposit_id, s.student_id, repository_id=f"hdl:123456789/{s.student_id}",
                                                time=submitted + timedelta(days=3)))  # fmt: skip

    fac = sim.library(faculty_library)
    if case in ("blocked_loan", "later_return", "withdrawn_before"):
        loan_id, events = sim.loan(faculty_library, faculty_patron, returned=False)
        p1.extend(events)
        if case == "later_return":
            p2.append(fac.loan_returned(faculty_library, loan_id, faculty_patron, sim.deadline,
                                        time=sim.deadline + timedelta(days=1)))  # fmt: skip
    if case == "blocked_lost":
        loan_id, events = sim.loan("central", central_patron, returned=False)
        p1.extend(events)
        p1.append(central.loan_lost("central", loan_id, central_patron, time=sim.deadline - timedelta(days=5)))
    if case == "blocked_interlibrary":
        p1.extend(sim.loan("central", central_patron, returned=False, interlibrary=True)[1])
    if case in ("blocked_fine", "later_payment"):
        fine_id = f"FN-{s.student_id}-1"
        at = sim.deadline - timedelta(days=20)
        p1.append(central.fine_assessed("central", fine_id, central_patron, "25000", reason="terlambat", time=at))
        p1.append(central.fine_paid("central", fine_id, central_patron, "5000", time=at + timedelta(days=1)))
        if case == "later_payment":
            for days, amount in ((1, "10000"), (2, "10000")):
                p2.append(central.fine_paid("central", fine_id, central_patron, amount,
                                            time=sim.deadline + timedelta(days=days)))  # fmt: skip
    if case == "later_deposit":
        resubmitted = sim.deadline + timedelta(days=1)
        p2.append(sim.desk.deposit_submitted(deposit_id, s.student_id, f"{title} (revisi)", s.degree_level,
                                             time=resubmitted))  # fmt: skip
        p2.append(sim.desk.deposit_accepted(deposit_id, s.student_id, time=resubmitted + timedelta(days=1)))
    if case == "late_link":
        # A partner library lent to a card the service has not seen linked yet; the link comes in phase 2.
        partner = sim.library(PARTNER)
        partner_patron = f"X{rng.randrange(10**6):06d}"
        p1.extend(sim.loan(PARTNER, partner_patron, returned=False)[1])
        p2.append(partner.patron_linked(PARTNER, partner_patron, s.student_id, time=sim.deadline))
        p2.append(sim.desk.deposit_submitted(deposit_id, s.student_id, title, s.degree_level, time=sim.deadline))
        p2.append(sim.desk.deposit_accepted(deposit_id, s.student_id, time=sim.deadline + timedelta(hours=4)))

    p1.append(
        sim.registrar.application_submitted(
            s.application_id, s.student_id, full_name=s.full_name, faculty=s.faculty, program=s.program,
            degree_level=s.degree_level, graduation_period=PERIOD, ceremony_date="2026-12-12",
            time=sim.deadline - timedelta(days=rng.randrange(1, 10)),
        )
    )  # fmt: skip
    if case.startswith("withdrawn"):
        p2.append(sim.registrar.application_withdrawn(s.application_id, s.student_id, "mengundurkan diri dari wisuda",
                                                      time=sim.deadline + timedelta(days=2)))  # fmt: skip
