"""Pre-loading a store with ``size`` students' worth of rows, fast: bulk SQL straight into the tables.

Replaying millions of events through Kafka would take longer than the
benchmark itself, so the rows the service would have written for each
student's history (links, loans, a paid fine, an accepted deposit, and
the inbox ids of the events behind them) are written directly: ``COPY``
on PostgreSQL, ``executemany`` on SQLite. The values are written exactly as
the store's column types write them (RFC 3339 text for event times,
decimal strings, enum values, the ordering stamps of
:mod:`clearance.ordering`), so the service reads them as its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine

from bench.population import CENTRAL, LOANS_PER_STUDENT, StudentPlan
from bench.workload import START
from clearance.domain.ordering import stamp

# Columns of each table in the order the rows below give them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "students": ("student_id",),
    "patron_links": ("library_id", "patron_id", "student_id", "link_stamp"),
    "loans": (
        "library_id", "loan_id", "patron_id", "item_id", "title", "borrowed_at", "interlibrary", "opened_stamp",
        "due_at", "due_stamp", "status", "status_stamp", "returned_at",
    ),
    "fines": (
        "library_id", "fine_id", "patron_id", "amount", "currency", "reason", "loan_id", "assessed_stamp", "paid",
        "waived", "waived_stamp",
    ),
    "fine_payments": ("library_id", "fine_id", "payment_stamp", "amount"),
    "deposits": (
        "deposit_id", "student_id", "title", "degree_level", "submitted_stamp", "state", "state_stamp",
        "repository_id", "rejection_reason",
    ),
    "inbox": ("source", "event_id", "type", "processed_at"),
}  # fmt: skip

_CHUNK = 20_000


@dataclass
class PreloadResult:
    """How many rows went into each table, and how long it took."""

    students: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


@lru_cache(maxsize=65_536)
def _stamp_prefix(moment: datetime, rank: int) -> str:
    # The stamp of clearance.domain.ordering up to its source: the few distinct moments repeat over millions of rows.
    return stamp(moment, None, rank, "", "")[:-1]


@lru_cache(maxsize=65_536)
def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _rows(plan: StudentPlan, now: datetime, out: dict[str, list[tuple[Any, ...]]]) -> None:
    """Append every row a student's pre-loaded history leaves in the store to ``out``."""
    k = plan.index
    sid = plan.student_id
    # Inbox ids age over three months, so a prune at the default retention removes some and keeps others.
    processed = now - timedelta(days=(k * 7919) % 90, seconds=k % 86_400)

    def seen(source: str, event_id: str, event_type: str) -> None:
        out["inbox"].append((source, event_id, event_type, processed))

    def st(moment: datetime, rank: int, source: str, event_id: str) -> str:
        return f"{_stamp_prefix(moment, rank)}{source}|{event_id}"

    central_src = f"urn:library:{CENTRAL}"
    out["students"].append((sid,))
    cards = [(CENTRAL, plan.central_patron)]
    if plan.faculty_patron is not None:
        cards.append((plan.faculty_library, plan.faculty_patron))
    for library_id, patron in cards:
        source, event_id = f"urn:library:{library_id}", f"pre-link-{library_id}-{patron}"
        out["patron_links"].append((library_id, patron, sid, st(START, 0, source, event_id)))
        seen(source, event_id, "library.patron.linked")
    for j in range(LOANS_PER_STUDENT):
        library_id, patron = cards[j % len(cards)]
        source = f"urn:library:{library_id}"
        borrowed = START + timedelta(days=j * 20, seconds=k % 3600)
        due = borrowed + timedelta(days=14)
        back = borrowed + timedelta(days=10)
        opened_id, returned_id = f"pre-open-{plan.loan_id(j)}", f"pre-return-{plan.loan_id(j)}"
        still_out = plan.blocked and j == LOANS_PER_STUDENT - 1
        opened_stamp = st(borrowed, 0, source, opened_id)
        out["loans"].append((
            library_id, plan.loan_id(j), patron, f"B{k:07d}{j}", "Metodologi Penelitian", _iso(borrowed), False,
            opened_stamp, _iso(due), opened_stamp,
            "open" if still_out else "returned",
            opened_stamp if still_out else st(back, 3, source, returned_id),
            None if still_out else _iso(back),
        ))  # fmt: skip
        seen(source, opened_id, "library.loan.opened")
        if not still_out:
            seen(source, returned_id, "library.loan.returned")
    if plan.has_fine:
        fine_id = f"FN{k:07d}"
        assessed = START + timedelta(days=30)
        assessed_id, paid_id = f"pre-fine-{fine_id}", f"pre-paid-{fine_id}"
        out["fines"].append((
            CENTRAL, fine_id, plan.central_patron, "5000", "IDR", "overdue", None,
            st(assessed, 0, central_src, assessed_id), "5000", False, None,
        ))  # fmt: skip
        out["fine_payments"].append(
            (CENTRAL, fine_id, st(assessed + timedelta(days=2), 1, central_src, paid_id), "5000")
        )
        seen(central_src, assessed_id, "library.fine.assessed")
        seen(central_src, paid_id, "library.fine.paid")
    desk = "urn:repository:deposit-desk"
    submitted = START + timedelta(days=60)
    sub_id, acc_id = f"pre-sub-{plan.deposit_id}", f"pre-acc-{plan.deposit_id}"
    out["deposits"].append((
        plan.deposit_id, sid, "Skripsi", plan.programme[3], st(submitted, 0, desk, sub_id), "accepted",
        st(submitted + timedelta(days=3), 2, desk, acc_id), f"hdl:123456789/{sid}", None,
    ))  # fmt: skip
    seen(desk, sub_id, "thesis.deposit.submitted")
    seen(desk, acc_id, "thesis.deposit.accepted")


def _batches(size: int, now: datetime) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    batch: dict[str, list[tuple[Any, ...]]] = {t: [] for t in COLUMNS}
    for k in range(size):
        _rows(StudentPlan(k), now, batch)
        if len(batch["inbox"]) >= _CHUNK:
            yield batch
            batch = {t: [] for t in COLUMNS}
    if any(batch.values()):
        yield batch


def _sqlite_value(value: Any) -> Any:
    # SQLAlchemy's SQLite DateTime writes naive "YYYY-MM-DD HH:MM:SS.ffffff"; booleans are 0/1.
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, bool):
        return int(value)
    return value


def _writer(engine: Engine) -> tuple[Callable[[str, list[tuple[Any, ...]]], None], Callable[[], None], Any]:
    raw = engine.raw_connection()
    dbapi = raw.driver_connection
    if engine.dialect.name == "postgresql":

        def write(table: str, rows: list[tuple[Any, ...]]) -> None:
            with (
                dbapi.cursor() as cursor,
                cursor.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)

    else:

        def write(table: str, rows: list[tuple[Any, ...]]) -> None:
            marks = ", ".join("?" for _ in COLUMNS[table])
            dbapi.executemany(
                f"INSERT INTO {table} ({', '.join(COLUMNS[table])}) VALUES ({marks})",
                [tuple(_sqlite_value(v) for v in row) for row in rows],
            )

    return write, dbapi.commit, raw


def preload(engine: Engine, size: int, progress: Callable[[int], None] | None = None) -> PreloadResult:
    """Write ``size`` students' worth of rows into the (migrated, empty) store behind ``engine``."""
    started = time.monotonic()
    result = PreloadResult(students=size, rows={t: 0 for t in COLUMNS})
    write, commit, raw = _writer(engine)
    try:
        if engine.dialect.name == "sqlite":
            raw.driver_connection.execute("BEGIN")
        done = 0
        for batch in _batches(size, datetime.now(UTC)):
            for table in COLUMNS:
                if batch[table]:
                    write(table, batch[table])
                    result.rows[table] += len(batch[table])
            done += len(batch["students"])
            if progress is not None:
                progress(done)
        commit()
    finally:
        raw.close()
    if engine.dialect.name == "postgresql":
        # Statistics as autovacuum would gather them on a store this size (ANALYZE, committed).
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    result.seconds = time.monotonic() - started
    return result


def row_counts(engine: Engine, tables: Iterable[str]) -> dict[str, int]:
    """How many rows each table holds."""
    with engine.connect() as conn:
        return {t: int(conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()) for t in tables}
