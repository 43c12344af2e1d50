"""From one SLiMS member's rows and the digest of what was last published for them, to events (pure).

The digest (kept in the state store under ``member:<member_id>``) records, per
member, the open loans (due date, renewal count), the fines rows (debet,
credit) and the student link last published. Each pass compares it with the
tables: SLiMS neither stamps renewals nor fines, so only a comparison sees
them. When the comparison cannot be explained by SLiMS's own circulation
(no digest, a loan gone without a return, a credit lowered, a debet changed)
the member also gets a ``library.patron.snapshot`` that states their whole
state, which the service reconciles with.

Times: a fact SLiMS stamps keeps its stamp (checkout ``input_date``, return
``last_update``, ``fines_date``); a fact it does not stamp, seen as a change,
carries the pass time and a ``sequence`` that grows with its version (renewal
count, cumulative credit), so that later facts sort later (G5).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from connectors.runtime import Outgoing
from connectors.slims.events import TICK, Context, Window, envelope, rfc3339
from connectors.slims.rows import FineRow, LoanNow, MemberView, OpenLoan

Digest = dict[str, Any]


@dataclass(slots=True)
class Plan:
    """What to publish for one member, and the digest to store once the broker acknowledged it."""

    events: list[Outgoing] = field(default_factory=list)
    digest: Digest | None = None
    unmappable: list[str] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)


def student_id_for(member_id: str, column_value: object | None, pattern: re.Pattern[str] | None) -> str | None:
    """The student a member record belongs to: ``column_value`` when a column is configured,
    else the first group (or the whole match) of ``pattern`` in the member id, else the member id."""
    if column_value is not None or pattern is None:
        value = member_id if column_value is None else str(column_value).strip()
        return value or None
    found = pattern.search(member_id)
    if found is None:
        return None
    return (found.group(1) if found.groups() else found.group(0)) or None


def _date(value: object) -> date | None:
    # MySQL keeps zero dates ('0000-00-00'), which PyMySQL hands over as text.
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _opened_at(ctx: Context, loan: OpenLoan | LoanNow) -> datetime | None:
    """The checkout's stamp (``input_date``), or the day of ``loan_date`` when the desk set another day."""
    loan_date = _date(loan.loan_date)
    if isinstance(loan.input_date, datetime) and (loan_date is None or loan.input_date.date() == loan_date):
        return ctx.local(loan.input_date)
    return ctx.local(loan_date) if loan_date else None


def _loan_unmappable(loan: OpenLoan) -> str | None:
    if not loan.item_code:
        return "no item_code"
    if _date(loan.due_date) is None:
        return f"due_date {loan.due_date!r} is not a date"
    if _date(loan.loan_date) is None and not isinstance(loan.input_date, datetime):
        return "neither loan_date nor input_date is a date"
    return None


def _balance(fines: list[FineRow]) -> int:
    return max(0, sum(f.debet - f.credit for f in fines))


class _Member:
    """One member's comparison; ``plan_member`` is its only user."""

    def __init__(self, view: MemberView, digest: Digest | None, ctx: Context) -> None:
        self.view, self.ctx, self.old = view, ctx, digest
        self.plan = Plan()
        self.subject = view.member_id
        self.pending: list[tuple[str, dict[str, Any], datetime, tuple[object, ...], int | None]] = []

    def emit(
        self, kind: str, data: dict[str, Any], at: datetime, identity: tuple[object, ...], seq: int | None = None
    ) -> None:
        self.pending.append((kind, data, at, identity, seq))

    # -- loans ------------------------------------------------------------------

    def loans(self) -> dict[str, Any]:
        known: dict[str, Any] = (self.old or {}).get("loans", {})
        now_open: dict[str, Any] = {}
        lib = self.ctx.library_id
        for loan in self.view.open_loans:
            problem = _loan_unmappable(loan)
            if problem is not None:
                self.plan.unmappable.append(f"loan {loan.loan_id}: {problem}")
                if str(loan.loan_id) in known:  # still out: a row spoilt after it was published is not a return
                    now_open[str(loan.loan_id)] = known[str(loan.loan_id)]
                continue
            due = _date(loan.due_date)
            assert due is not None
            opened = _opened_at(self.ctx, loan)
            assert opened is not None
            due_at = rfc3339(self.ctx.local(due))
            key = str(loan.loan_id)
            before = known.get(key)
            if before is None:
                self.emit("library.loan.opened", {
                    "loan_id": key, "library_id": lib, "patron_id": self.subject, "item_id": loan.item_code,
                    "title": (loan.title or "").strip()[:2000] or f"item {loan.item_code}",
                    "borrowed_at": rfc3339(opened), "due_at": due_at,
                }, opened, ("loan", key, "opened", self.subject))  # fmt: skip
                if loan.renewed > 0:
                    # Renewed before the connector first saw it: stamped with the checkout, ordered after it.
                    self.renewed(key, due, opened, loan.renewed)
            elif before["due"] != due.isoformat() or before["renewed"] != loan.renewed:
                if loan.renewed < before["renewed"]:
                    self.plan.doubts.append(f"loan {key}: renewal count went back")
                self.renewed(key, due, self.ctx.now, loan.renewed)
            now_open[key] = {"due": due.isoformat(), "renewed": loan.renewed}
        for key in sorted(set(known) - set(now_open), key=int):
            row = self.view.left.get(int(key))
            returned = self._returned_at(row)
            if returned is None:
                state = "gone" if row is None else f"member {row.member_id!r}, is_lent {row.is_lent}"
                self.plan.doubts.append(f"loan {key} no longer open without a return ({state})")
                continue
            self.emit("library.loan.returned", {"loan_id": key, "library_id": lib, "returned_at": rfc3339(returned)},
                      returned, ("loan", key, "returned", self.subject))  # fmt: skip
        return now_open

    def renewed(self, key: str, due: date, at: datetime, count: int) -> None:
        data = {"loan_id": key, "library_id": self.ctx.library_id, "due_at": rfc3339(self.ctx.local(due))}
        self.emit("library.loan.renewed", data, at, ("loan", key, "renewed", count, due.isoformat()), count)

    def _returned_at(self, row: LoanNow | None) -> datetime | None:
        if row is None or row.member_id != self.subject or row.is_return != 1:
            return None
        at: datetime | None = None
        return_date = _date(row.return_date)
        if isinstance(row.last_update, datetime) and (return_date is None or row.last_update.date() == return_date):
            at = self.ctx.local(row.last_update)  # the return stamped it; return_date alone says only the day
        elif return_date is not None:
            at = self.ctx.local(return_date)
        opened = _opened_at(self.ctx, row)
        if at is None:
            return self.ctx.now
        return max(at, opened) if opened is not None else at

    # -- fines ------------------------------------------------------------------

    def fines(self) -> dict[str, Any]:
        known: dict[str, Any] = (self.old or {}).get("fines", {})
        now_rows: dict[str, Any] = {}
        for fine in self.view.fines:
            key = str(fine.fines_id)
            before = known.get(key)
            entry = {"debet": fine.debet, "credit": fine.credit, "rev": before["rev"] if before else 0}
            now_rows[key] = entry
            if fine.debet < 0 or fine.credit < 0:
                self.plan.unmappable.append(f"fine {key}: negative debet or credit")
                continue
            if fine.credit > fine.debet:
                # A credit-only (or overpaid) row pays no one fine: only a snapshot's balance can say it.
                if before is None or (before["debet"], before["credit"]) != (fine.debet, fine.credit):
                    self.plan.doubts.append(f"fine {key}: credit exceeds debet")
                continue
            if before is None:
                self._first_fine(fine, key)
                continue
            self._changed_fine(fine, key, before, entry)
        for key in sorted(set(known) - set(now_rows), key=int):
            if known[key]["credit"] > known[key]["debet"]:
                self.plan.doubts.append(f"fine {key}: a credit row was deleted")
                continue
            self.emit("library.fine.waived", {"fine_id": key, "library_id": self.ctx.library_id},
                      self.ctx.now, ("fine", key, "waived"))  # fmt: skip
        return now_rows

    def _assessed(self, fine: FineRow, key: str, at: datetime, rev: int, seq: int | None = None) -> None:
        self.emit("library.fine.assessed", {
            "fine_id": key, "library_id": self.ctx.library_id, "patron_id": self.subject,
            "amount": str(fine.debet), "currency": self.ctx.currency,
            "reason": (fine.description or "").strip()[:2000] or "SLiMS fine",
        }, at, ("fine", key, "assessed", rev, fine.debet), seq)  # fmt: skip

    def _first_fine(self, fine: FineRow, key: str) -> None:
        fines_date = _date(fine.fines_date)
        at = self.ctx.local(fines_date) if fines_date else self.ctx.now
        self._assessed(fine, key, at, 0)
        if fine.credit > 0:
            self.emit("library.fine.paid", {"fine_id": key, "library_id": self.ctx.library_id,
                      "amount": str(fine.credit)}, at, ("fine", key, "paid", fine.credit), fine.credit)  # fmt: skip

    def _changed_fine(self, fine: FineRow, key: str, before: dict[str, Any], entry: dict[str, Any]) -> None:
        lib, now = self.ctx.library_id, self.ctx.now
        if fine.credit > before["credit"]:
            self.emit("library.fine.paid", {"fine_id": key, "library_id": lib,
                      "amount": str(fine.credit - before["credit"])}, now,
                      ("fine", key, "paid", fine.credit), fine.credit)  # fmt: skip
        elif fine.credit < before["credit"]:
            self.plan.doubts.append(f"fine {key}: credit lowered")
        if fine.debet == before["debet"]:
            return
        if fine.debet < before["debet"] and fine.debet <= fine.credit:
            self.emit("library.fine.waived", {"fine_id": key, "library_id": lib}, now, ("fine", key, "waived"))
            return
        entry["rev"] = before["rev"] + 1
        self._assessed(fine, key, now, entry["rev"], entry["rev"])
        self.plan.doubts.append(f"fine {key}: debet changed")

    # -- the member -------------------------------------------------------------

    def link(self) -> str | None:
        student = self.view.student_id if self.view.known else None
        previous = (self.old or {}).get("student")
        if student is not None and (self.old is None or student != previous):
            at = self.ctx.local(self.view.registered) if self.old is None and self.view.registered else self.ctx.now
            self.emit("library.patron.linked",
                      {"patron_id": self.subject, "library_id": self.ctx.library_id, "student_id": student},
                      at, ("member", self.subject, "linked", student))  # fmt: skip
        return student if student is not None else previous

    def snapshot(self, loans: dict[str, Any], count: int) -> Outgoing:
        lib = self.ctx.library_id
        open_loans = []
        for loan in sorted(self.view.open_loans, key=lambda x: x.loan_id):
            if str(loan.loan_id) not in loans:
                continue  # unmappable: already logged and counted
            opened, due = _opened_at(self.ctx, loan), _date(loan.due_date)
            assert opened is not None and due is not None
            open_loans.append({
                "loan_id": str(loan.loan_id), "item_id": loan.item_code,
                "title": (loan.title or "").strip()[:2000] or f"item {loan.item_code}",
                "borrowed_at": rfc3339(min(opened, self.ctx.now)), "due_at": rfc3339(self.ctx.local(due)),
            })  # fmt: skip
        balance = _balance([f for f in self.view.fines if f.debet >= 0 and f.credit >= 0])
        content = hashlib.sha256(json.dumps([open_loans, balance], sort_keys=True).encode()).hexdigest()[:16]
        data = {"patron_id": self.subject, "library_id": lib, "as_of": rfc3339(self.ctx.now),
                "open_loans": open_loans, "fine_balance": str(balance), "currency": self.ctx.currency}  # fmt: skip
        identity = ("member", self.subject, "snapshot", self.ctx.generation, count, content)
        return envelope(self.ctx, "library.patron.snapshot", self.subject, data, at=self.ctx.now, identity=identity)


def plan_member(view: MemberView, digest: Digest | None, ctx: Context) -> Plan:
    """The events that bring the service from ``digest`` (None: nothing known) to ``view``, and the new digest."""
    member = _Member(view, digest, ctx)
    student = member.link()
    loans = member.loans()
    fines = member.fines()
    plan = member.plan
    if digest is None:
        plan.doubts.insert(0, "first sight")
    snapshots = (digest or {}).get("snapshots", 0)
    as_of = (digest or {}).get("as_of")
    floor = datetime.fromisoformat(as_of) + TICK if as_of else None
    window = Window(floor, ctx.now - TICK if plan.doubts else ctx.now)
    for kind, data, at, identity, seq in member.pending:
        plan.events.append(envelope(ctx, kind, view.member_id, data, at=window.fit(at), identity=identity,
                                    sequence=seq))  # fmt: skip
    if plan.doubts:
        snapshots += 1
        plan.events.append(member.snapshot(loans, snapshots))
        as_of = rfc3339(ctx.now)
    plan.digest = {"student": student, "loans": loans, "fines": fines, "snapshots": snapshots, "as_of": as_of}
    return plan
