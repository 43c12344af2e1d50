"""Reading a SLiMS 9 database, read-only: members, open loans with their titles, fines, and
the rows of loans that were open the last time."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url

from connectors.slims.mapping import student_id_for
from connectors.slims.rows import FineRow, LoanNow, MemberView, OpenLoan

log = structlog.get_logger("clearance.connectors.slims")

_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_CHUNK = 1000

OPEN_LOANS = text(
    "SELECT l.loan_id, l.member_id, l.item_code, l.loan_date, l.due_date, l.renewed, l.input_date, b.title"
    " FROM loan l LEFT JOIN item i ON i.item_code = l.item_code LEFT JOIN biblio b ON b.biblio_id = i.biblio_id"
    " WHERE l.is_lent = 1 AND l.is_return = 0"
)
FINES = text("SELECT fines_id, member_id, fines_date, debet, credit, description FROM fines")


class SourceError(Exception):
    """The SLiMS database is not what the connector can read (a missing column, a bad option)."""


@dataclass(slots=True)
class Reading:
    """One pass's view of the library, per member, and the rows that could not be attributed to one."""

    members: dict[str, MemberView] = field(default_factory=dict)
    unmappable: list[str] = field(default_factory=list)

    def member(self, member_id: str) -> MemberView:
        view = self.members.get(member_id)
        if view is None:
            view = self.members[member_id] = MemberView(member_id, student_id=member_id)
        return view


def engine_for(dsn: str) -> Engine:
    """An engine on the SLiMS database whose sessions refuse writes."""
    url = make_url(dsn)
    if not url.drivername.startswith("mysql") and not url.drivername.startswith("mariadb"):
        raise SourceError(f"--dsn must be a mysql+pymysql:// URL, not {url.drivername}://")
    query = dict(url.query)
    query.setdefault("charset", "utf8mb4")
    engine = create_engine(url.set(query=query), pool_pre_ping=True, pool_recycle=3600)

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")

    return engine


class SlimsSource:
    """Reads what the connector compares each pass. MyISAM has no transactions, so the
    queries see slightly different moments; a change between them shows in the next pass."""

    def __init__(self, engine: Engine, student_id_column: str | None, student_id_pattern: str | None) -> None:
        if student_id_column is not None and not _COLUMN.match(student_id_column):
            raise SourceError(f"--student-id-column {student_id_column!r} is not a column name")
        self.engine = engine
        self.column = student_id_column
        try:
            self.pattern = re.compile(student_id_pattern) if student_id_pattern else None
        except re.error as exc:
            raise SourceError(f"--student-id-pattern does not compile: {exc}") from None

    def check(self) -> None:
        """Fail clearly when a configured column is not in ``member``."""
        if self.column is None:
            return
        with self.engine.connect() as conn:
            found = conn.execute(text(f"SHOW COLUMNS FROM member LIKE '{self.column}'")).first()
        if found is None:
            raise SourceError(f"member has no column {self.column!r} (--student-id-column)")

    def read(self, last_open: Iterable[tuple[str, int]]) -> Reading:
        """The members, open loans and fines now, and the current rows of ``last_open``
        (member id, loan id: the loans open at the last pass) that are not open any more."""
        reading = Reading()
        with self.engine.connect() as conn:
            self._members(conn, reading)
            opened = self._open_loans(conn, reading)
            self._fines(conn, reading)
            gone = [(m, loan_id) for m, loan_id in last_open if loan_id not in opened]
            self._left(conn, reading, gone)
        return reading

    def _members(self, conn: Connection, reading: Reading) -> None:
        extra = f", `{self.column}` AS student_column" if self.column else ""
        for row in conn.execute(text(f"SELECT member_id, input_date{extra} FROM member")).mappings():
            member_id = (row["member_id"] or "").strip()
            if not member_id:
                reading.unmappable.append("member with an empty member_id")
                continue
            view = reading.member(member_id)
            view.known = True
            view.registered = row["input_date"] if hasattr(row["input_date"], "year") else None
            column_value = row["student_column"] if self.column else None
            if self.column and (column_value is None or not str(column_value).strip()):
                view.student_id = None
                reading.unmappable.append(f"member {member_id}: {self.column} is empty, no student link")
                continue
            view.student_id = student_id_for(member_id, column_value, self.pattern)
            if view.student_id is None:
                reading.unmappable.append(f"member {member_id}: --student-id-pattern does not match, no student link")

    def _open_loans(self, conn: Connection, reading: Reading) -> set[int]:
        opened: set[int] = set()
        for r in conn.execute(OPEN_LOANS):
            member_id = (r.member_id or "").strip()
            if not member_id:
                reading.unmappable.append(f"loan {r.loan_id}: no member_id")
                continue
            opened.add(r.loan_id)
            view = reading.member(member_id)
            view.open_loans.append(
                OpenLoan(
                    r.loan_id,
                    member_id,
                    r.item_code,
                    r.loan_date,
                    r.due_date,
                    int(r.renewed or 0),
                    r.input_date,
                    r.title,
                )
            )
        return opened

    def _fines(self, conn: Connection, reading: Reading) -> None:
        for r in conn.execute(FINES):
            member_id = (r.member_id or "").strip()
            if not member_id:
                reading.unmappable.append(f"fine {r.fines_id}: no member_id")
                continue
            reading.member(member_id).fines.append(
                FineRow(r.fines_id, member_id, r.fines_date, int(r.debet or 0), int(r.credit or 0), r.description)
            )

    def _left(self, conn: Connection, reading: Reading, gone: list[tuple[str, int]]) -> None:
        ids = [loan_id for _, loan_id in gone]
        rows: dict[int, LoanNow] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            query = text(
                "SELECT loan_id, member_id, is_lent, is_return, loan_date, return_date, input_date, last_update"
                f" FROM loan WHERE loan_id IN ({','.join(str(int(i)) for i in chunk)})"
            )
            for r in conn.execute(query):
                rows[r.loan_id] = LoanNow(r.loan_id, r.member_id, r.is_lent, r.is_return, r.loan_date,
                                          r.return_date, r.input_date, r.last_update)  # fmt: skip
        for member_id, loan_id in gone:
            reading.member(member_id).left[loan_id] = rows.get(loan_id)
