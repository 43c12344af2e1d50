"""``clearance applications show STUDENT_ID``: what the service knows about a student, and why they are blocked."""

from __future__ import annotations

from functools import partial
from typing import Any

import click
from rich.table import Table
from sqlalchemy.engine import make_url

from clearance.cli.context import current_settings
from clearance.cli.status import console, local_time, read_store
from clearance.store import views

_STATUS_STYLE = {"cleared": "green", "blocked": "red", "pending": "yellow", "revoked": "magenta", "withdrawn": "dim"}


def _heading(text: str) -> str:
    # Printed above a table rather than as its title: rich wraps a title to the table's width.
    return f"\n[bold]{text}[/bold]"


def describe_reason(reason: dict[str, Any], zone: str = "UTC") -> tuple[str, str, str]:
    """(where, what, detail) of one blocking reason, as an operator reads it (times in ``zone``)."""
    _when = partial(local_time, zone=zone)
    code = reason.get("code", "?")
    where = reason.get("library_id") or ""
    if code in ("OUTSTANDING_LOAN", "LOST_ITEM", "LOAN_AFTER_ISSUANCE"):
        item, loan = reason.get("item_id") or "?", reason.get("loan_id") or "?"
        what = f"{reason.get('title') or '?'} (item {item}, loan {loan})"
        parts = [f"borrowed {_when(reason.get('borrowed_at'))}", f"due {_when(reason.get('due_at'))}"]
        if reason.get("interlibrary"):
            parts.append("inter-library loan")
        return where, what, ", ".join(parts)
    if code == "UNPAID_FINES":
        return where, f"{reason.get('amount')} {reason.get('currency') or ''}".strip(), "outstanding fines"
    if code.startswith("THESIS_"):
        what = f"deposit {reason.get('deposit_id')}" if reason.get("deposit_id") else "no deposit"
        state = reason.get("deposit_state")
        detail = ", ".join(p for p in (f"state {state}" if state else "", reason.get("detail") or "") if p)
        return where, what, detail
    known = {"code", "library_id"}
    return where, reason.get("detail") or "", ", ".join(f"{k}={v}" for k, v in reason.items() if k not in known)


@click.group()
def applications() -> None:
    """Graduation applications as the service knows them."""


@applications.command("show")
@click.argument("student_id")
def applications_show(student_id: str) -> None:
    """Everything known about STUDENT_ID: applications and why they are blocked, loans, fines, deposits."""

    settings = current_settings()
    _when = partial(local_time, zone=settings.timezone)
    report = read_store(settings, lambda uow: views.student_report(uow.session, student_id))
    if not report.known:
        database = make_url(settings.database_url).render_as_string(hide_password=True)
        raise click.ClickException(f"no application, patron link or deposit of student {student_id!r} in {database}")
    out = console()
    out.print(f"[bold]Student {report.student_id}[/bold]" + (f" - {report.full_name}" if report.full_name else ""))
    out.print(f"times in {settings.timezone} (CLEARANCE_TIMEZONE)")

    out.print(_heading("Applications"))

    table = Table()
    for column in ("application", "faculty / program", "degree", "period", "status", "evaluated", "certificate"):
        table.add_column(column)
    for a in report.applications:
        certificate = "-"
        if a.certificate_number:
            issued = _when(a.certificate_issued_at)
            certificate = f"{a.certificate_number} (key {a.certificate_key_id}, issued {issued})"
            if a.revoked_at:
                certificate += f", revoked {_when(a.revoked_at)}: {a.revocation_reason}"
        table.add_row(
            a.application_id, f"{a.faculty or '-'} / {a.program or '-'}", a.degree_level or "-",
            a.graduation_period or "-", f"[{_STATUS_STYLE.get(a.status, '')}]{a.status}[/]", _when(a.evaluated_at),
            certificate,
        )  # fmt: skip
    out.print(table)

    for a in report.applications:
        if not a.reasons:
            continue
        out.print(_heading(f"Why {a.application_id} is {a.status}"))
        reasons = Table()
        for column in ("reason", "library", "what", "detail"):
            reasons.add_column(column)
        for reason in a.reasons:
            where, what, detail = describe_reason(reason, settings.timezone)
            reasons.add_row(reason.get("code", "?"), where or "-", what or "-", detail or "-")
        out.print(reasons)
        if a.stale_sources:
            out.print(f"decided while these sources were behind: {a.stale_sources}")

    if report.links:
        out.print(_heading("Patron records linked to the student"))
        links = Table()
        links.add_column("library")
        links.add_column("patron")
        for link in report.links:
            links.add_row(link.library_id, link.patron_id)
        out.print(links)
    else:
        out.print("no patron record is linked to this student: no library has said who they are")

    if report.loans:
        out.print(_heading("Loans"))
        loans = Table()
        for column in ("library", "loan", "item", "title", "status", "borrowed", "due", "returned", "ILL"):
            loans.add_column(column)
        for loan in report.loans:
            loans.add_row(
                loan.library_id, loan.loan_id, loan.item_id or "-", loan.title or "-",
                loan.status.value if loan.status else "-", _when(loan.borrowed_at), _when(loan.due_at),
                _when(loan.returned_at), "yes" if loan.interlibrary else "",
            )  # fmt: skip
        out.print(loans)

    if report.fines:
        out.print(_heading("Fines"))
        fines = Table()
        for column in ("library", "fine", "reason", "amount", "paid", "outstanding", "currency", "waived"):
            fines.add_column(column, justify="right" if column in ("amount", "paid", "outstanding") else "left")
        for fine in report.fines:
            fines.add_row(
                fine.library_id, fine.fine_id, fine.reason or "-", str(fine.amount if fine.amount is not None else "?"),
                str(fine.paid), str(views.fine_outstanding(fine)), fine.currency or "-",
                "yes" if fine.waived else "",
            )  # fmt: skip
        out.print(fines)

    if report.snapshots:
        out.print(_heading("Reconciliation snapshots (they replace earlier loans and fines at their library)"))
        snapshots = Table()
        for column in ("library", "patron", "as of", "fine balance", "currency"):
            snapshots.add_column(column)
        for snap in report.snapshots:
            snapshots.add_row(
                snap.library_id, snap.patron_id, _when(snap.as_of), str(snap.fine_balance), snap.currency or "-"
            )
        out.print(snapshots)

    if report.trainings:
        out.print(_heading("Trainings"))
        trainings = Table()
        for column in ("library", "course", "completed"):
            trainings.add_column(column)
        for training in report.trainings:
            trainings.add_row(training.library_id, training.course, _when(training.completed_at))
        out.print(trainings)

    out.print(_heading("Deposits of the final work"))

    deposits = Table()
    for column in ("deposit", "title", "degree", "state", "repository", "rejection reason"):
        deposits.add_column(column)
    for deposit in report.deposits:
        deposits.add_row(
            deposit.deposit_id, deposit.title or "-", deposit.degree_level or "-",
            deposit.state.value if deposit.state else "-", deposit.repository_id or "-",
            deposit.rejection_reason or "-",
        )  # fmt: skip
    out.print(deposits if report.deposits else "no deposit of the final work is known")

    if report.dead_letters:
        out.print(_heading("Dead letters keyed by this student or their patron ids (clearance dlq replay --id)"))
        letters = Table()
        for column in ("id", "origin", "kind", "message"):
            letters.add_column(column)
        for letter in report.dead_letters:
            letters.add_row(
                str(letter.id), f"{letter.origin_topic}[{letter.origin_partition}]@{letter.origin_offset}",
                letter.error_kind, letter.error_message[:100],
            )  # fmt: skip
        out.print(letters)


COMMANDS = [applications]
