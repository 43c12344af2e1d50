"""Pure mapping of FOLIO's loan and user domain events to the contract's circulation events.

State in (a lookup of the bridge's state), events and state changes out; no I/O.

Loans (``{env}.{tenant}.circulation.loan``):

- an open loan the bridge does not know yet: ``library.loan.opened`` at ``loanDate``,
  due at the current ``dueDate`` (so a loan first seen at its renewal is opened, not lost
  track of: FOLIO drops events whose publication failed);
- a known open loan whose ``renewalCount`` grew or whose ``dueDate`` changed (renewal,
  recall, a changed due date): ``library.loan.renewed`` at ``metadata.updatedDate``;
- an open loan whose item is ``Declared lost`` or ``Aged to lost`` (or whose action is
  ``declaredLost`` / ``itemAgedToLost``): ``library.loan.lost``;
- ``Claimed returned`` keeps the loan open and publishes nothing: FOLIO itself keeps
  the loan open until the item is found (checked in) or declared lost;
- a closed loan the bridge knew open, or one that closes in this event:
  ``library.loan.returned`` at ``returnDate`` (else ``systemReturnDate``,
  ``metadata.updatedDate``); a lost item paid for closes the same way;
- a deleted open loan: ``library.loan.returned`` at the event's timestamp (the
  loan no longer exists in FOLIO, so it no longer blocks there either);
- ``ALL_DELETED``: unmappable (logged and counted); a ``--resync`` restates patrons.

FOLIO loans carry no title: ``title`` is ``"FOLIO item <itemId>"`` (the reason still
names the item by ``item_id``).

Users (``{env}.{tenant}.users.users``): a user whose student-id field (``externalSystemId``
by default) is set and differs from what was last linked: ``library.patron.linked`` with
``patron_id`` = the FOLIO user id.
"""

from __future__ import annotations

from datetime import datetime

from connectors.folio.contract import (
    BridgeConfig,
    Draft,
    Mapped,
    StateLookup,
    cloud_event,
    first_time,
    iso,
    normal_date,
)
from connectors.folio.records import DomainEvent, Loan, UnmappableRecord, User, folio_time, parse_json, parse_record

LOST_ITEM_STATUSES = frozenset({"Declared lost", "Aged to lost"})
LOST_ACTIONS = frozenset({"declaredLost", "itemAgedToLost"})


def item_title(item_id: str) -> str:
    """The title the bridge gives an item: FOLIO loan records carry none."""
    return f"FOLIO item {item_id}"


def is_lost(loan: Loan) -> bool:
    """The loan's item is declared (or aged to) lost."""
    return loan.itemStatus in LOST_ITEM_STATUSES or loan.action in LOST_ACTIONS


def map_loan_event(value: bytes | None, lookup: StateLookup, config: BridgeConfig, now: datetime) -> Mapped:
    """The contract events and state changes of one record of ``{env}.{tenant}.circulation.loan``."""
    envelope: DomainEvent = parse_json(value, DomainEvent, "loan domain event")
    identity = envelope.id or ""
    if envelope.type == "ALL_DELETED":
        raise UnmappableRecord("ALL_DELETED: every loan of the tenant was deleted; restate with --resync", identity)
    old: Loan | None = parse_record(envelope.old, Loan, "data.old", identity)
    new: Loan | None = parse_record(envelope.new, Loan, "data.new", identity)
    draft = Draft(lookup)
    if envelope.type == "DELETED" or new is None:
        if old is None:
            raise UnmappableRecord(f"{envelope.type} event without a loan", identity)
        _deleted(draft, old, envelope, config, now)
        return draft.mapped
    known = draft.get(f"loan/{new.id}")
    if known is not None and _older(new.updated, known.get("updated")):
        return draft.mapped  # a version before the one applied: read again from the start
    user = new.userId or (old.userId if old else None) or (known or {}).get("user")
    if new.is_open:
        if user is None:
            raise UnmappableRecord("open loan without userId", new.id)
        _open(draft, new, known, user, envelope, config, now)
    elif new.is_closed:
        # An anonymised closed loan has no user; it matters only if the bridge knew it open.
        if user is not None:
            _closed(draft, new, old, known, user, envelope, config, now)
    else:
        status = new.status.name if new.status else None
        raise UnmappableRecord(f"loan status {status!r} is neither Open nor Closed", new.id)
    return draft.mapped


def _open(
    draft: Draft, loan: Loan, known: dict | None, user: str, envelope: DomainEvent, config: BridgeConfig, now: datetime
) -> None:
    due = normal_date(loan.dueDate, "dueDate of an open loan", loan.id)
    borrowed = normal_date(loan.loanDate, "loanDate", loan.id)
    changed_at = first_time(now, loan.updated, envelope.time)
    if known is None:
        opened_at = first_time(now, loan.loanDate)
        draft.emit(cloud_event(config, "library.loan.opened", user, {
            "loan_id": loan.id, "library_id": config.library_id, "patron_id": user, "item_id": loan.itemId,
            "title": item_title(loan.itemId), "borrowed_at": borrowed, "due_at": due,
        }, opened_at, ("loan", loan.id, "opened")))  # fmt: skip
        draft.touch_patron(user, opened_at)
    elif loan.renewalCount > known["renewals"] or folio_time(due) != folio_time(known["due_at"]):
        draft.emit(cloud_event(
            config, "library.loan.renewed", user, {"loan_id": loan.id, "library_id": config.library_id, "due_at": due},
            changed_at, ("loan", loan.id, "renewed", loan.renewalCount, due),
        ))  # fmt: skip
        draft.touch_patron(user, changed_at)
    lost = is_lost(loan)
    if lost and not (known or {}).get("lost", False):
        lost_at = first_time(now, loan.declaredLostDate, loan.updated, envelope.time)
        draft.emit(cloud_event(
            config, "library.loan.lost", user, {"loan_id": loan.id, "library_id": config.library_id},
            lost_at, ("loan", loan.id, "lost", loan.declaredLostDate or loan.updated or envelope.timestamp),
        ))  # fmt: skip
        draft.touch_patron(user, lost_at)
    draft.put(f"loan/{loan.id}", {
        "user": user, "item_id": loan.itemId, "borrowed_at": borrowed, "due_at": due,
        "renewals": max(loan.renewalCount, (known or {}).get("renewals", 0)), "lost": lost, "updated": loan.updated,
    })  # fmt: skip


def _older(version: str | None, applied: str | None) -> bool:
    """Whether a record's ``metadata.updatedDate`` is before that of the version already applied."""
    return version is not None and applied is not None and folio_time(version) < folio_time(applied)


def _closed(
    draft: Draft,
    loan: Loan,
    old: Loan | None,
    known: dict | None,
    user: str,
    envelope: DomainEvent,
    config: BridgeConfig,
    now: datetime,
) -> None:
    # Closed before the bridge ever saw it open (history, or a later update of a closed
    # loan such as anonymisation): nothing the service needs to hear.
    if known is None and (old is None or not old.is_open):
        return
    returned_at = first_time(now, loan.returnDate, loan.systemReturnDate, loan.updated, envelope.time)
    draft.emit(cloud_event(
        config, "library.loan.returned", user,
        {"loan_id": loan.id, "library_id": config.library_id, "returned_at": iso(returned_at)},
        returned_at, ("loan", loan.id, "returned"),
    ))  # fmt: skip
    draft.touch_patron(user, returned_at)
    draft.put(f"loan/{loan.id}", None)


def _deleted(draft: Draft, old: Loan, envelope: DomainEvent, config: BridgeConfig, now: datetime) -> None:
    known = draft.get(f"loan/{old.id}")
    user = old.userId or (known or {}).get("user")
    if (known is None and not old.is_open) or user is None:
        draft.put(f"loan/{old.id}", None)
        return
    gone_at = first_time(now, envelope.time, old.updated)
    draft.emit(cloud_event(
        config, "library.loan.returned", user,
        {"loan_id": old.id, "library_id": config.library_id, "returned_at": iso(gone_at)},
        gone_at, ("loan", old.id, "returned"),
    ))  # fmt: skip
    draft.touch_patron(user, gone_at)
    draft.put(f"loan/{old.id}", None)


def student_id_of(user: User, config: BridgeConfig) -> str | None:
    """The student number in the configured field, stripped; None when the user has none."""
    raw = getattr(user, config.student_id_field)
    value = raw.strip() if isinstance(raw, str) else None
    return value or None


def map_user_event(value: bytes | None, lookup: StateLookup, config: BridgeConfig, now: datetime) -> Mapped:
    """The contract events and state changes of one record of ``{env}.{tenant}.users.users``.

    A deleted user publishes nothing (the contract has no unlinking); a user without a
    student id (staff, guests) publishes nothing either.
    """
    envelope: DomainEvent = parse_json(value, DomainEvent, "user domain event")
    draft = Draft(lookup)
    if envelope.type in ("DELETED", "ALL_DELETED"):
        return draft.mapped
    user: User | None = parse_record(envelope.new, User, "data.new", envelope.id or "")
    if user is None:
        raise UnmappableRecord(f"{envelope.type} event without a user", envelope.id or "")
    student = student_id_of(user, config)
    if student is None:
        return draft.mapped
    if len(student) > 200:
        raise UnmappableRecord(f"{config.student_id_field} is longer than 200 characters", user.id)
    known = draft.get(f"patron/{user.id}") or {}
    meta = user.metadata
    version = meta.updatedDate if meta else None
    if known.get("student_id") == student or _older(version, known.get("user_updated")):
        return draft.mapped
    linked_at = first_time(now, meta.updatedDate if meta else None, meta.createdDate if meta else None, envelope.time)
    draft.emit(cloud_event(
        config, "library.patron.linked", user.id,
        {"patron_id": user.id, "library_id": config.library_id, "student_id": student},
        linked_at, ("user", user.id, "linked", student),
    ))  # fmt: skip
    draft.touch_patron(user.id, linked_at, student_id=student)
    draft.put(f"patron/{user.id}", {**draft.get(f"patron/{user.id}"), "user_updated": version})
    return draft.mapped
