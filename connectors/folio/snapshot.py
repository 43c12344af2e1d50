"""Pure restatement of what the bridge knows of a patron: ``library.patron.snapshot`` (``--resync``).

FOLIO's publishers drop events whose send failed, and a service's store can be
restored from a backup; a snapshot lets the service reconcile with what the bridge
knows. The snapshot's ``as_of`` is just after the latest fact the bridge knows of the
patron (capped at now): every event the bridge published for that patron is then
older than the snapshot, and every later FOLIO event still applies on top of it (the
service orders facts by their time). The patron's link is restated with it, under
the id of the original link event, so a service that had it drops it.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.folio.contract import BridgeConfig, amount, cloud_event, iso
from connectors.folio.mapping import item_title
from connectors.folio.records import UnmappableRecord, folio_time
from connectors.runtime import Outgoing

MAX_SNAPSHOT_LOANS = 10_000  # the contract's limit on one snapshot


def _suffix(key: str, prefix: str) -> str:
    return key[len(prefix) :]


def snapshot_events(
    user_id: str,
    patron: Mapping[str, Any] | None,
    loans: Mapping[str, Mapping[str, Any]],
    accounts: Mapping[str, Mapping[str, Any]],
    config: BridgeConfig,
    now: datetime,
) -> list[Outgoing]:
    """The link (if known) and the snapshot of one patron; ``loans`` and ``accounts`` are theirs, by id."""
    if len(loans) > MAX_SNAPSHOT_LOANS:
        raise UnmappableRecord(f"{len(loans)} open loans exceed a snapshot's {MAX_SNAPSHOT_LOANS}", user_id)
    last = (patron or {}).get("last")
    as_of = min(folio_time(last) + timedelta(milliseconds=1), now) if last else now
    open_loans = [
        {
            "loan_id": loan_id, "item_id": loan["item_id"], "title": item_title(loan["item_id"]),
            "borrowed_at": loan["borrowed_at"], "due_at": loan["due_at"], "lost": bool(loan.get("lost")),
        }
        for loan_id, loan in sorted(loans.items())
    ]  # fmt: skip
    balance = sum((Decimal(a["balance"]) for a in accounts.values() if not a.get("deleted")), Decimal(0))
    data = {
        "patron_id": user_id, "library_id": config.library_id, "as_of": iso(as_of), "open_loans": open_loans,
        "fine_balance": amount(balance, user_id), "currency": config.currency,
    }  # fmt: skip
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    events = []
    student = (patron or {}).get("student_id")
    if student:
        events.append(cloud_event(
            config, "library.patron.linked", user_id,
            {"patron_id": user_id, "library_id": config.library_id, "student_id": student},
            as_of, ("user", user_id, "linked", student),
        ))  # fmt: skip
    events.append(cloud_event(config, "library.patron.snapshot", user_id, data, as_of, ("snapshot", user_id, digest)))
    return events


def restatement(
    patrons: Mapping[str, Any],
    loans: Mapping[str, Any],
    accounts: Mapping[str, Any],
    config: BridgeConfig,
    now: datetime,
    only: str | None = None,
) -> dict[str, list[Outgoing]]:
    """Snapshot events per user id from the bridge's state, as ``StateStore.scan`` returns it
    (``patron/``, ``loan/`` and ``account/`` keys); every user the state names, or ``only``."""
    users: set[str] = {_suffix(k, "patron/") for k in patrons}
    by_user_loans: dict[str, dict[str, Any]] = defaultdict(dict)
    for key, loan in loans.items():
        by_user_loans[loan["user"]][_suffix(key, "loan/")] = loan
    by_user_accounts: dict[str, dict[str, Any]] = defaultdict(dict)
    for key, account in accounts.items():
        by_user_accounts[account["user"]][_suffix(key, "account/")] = account
    users |= set(by_user_loans) | set(by_user_accounts)
    if only is not None:
        users = {only}
    return {
        user: snapshot_events(
            user,
            patrons.get(f"patron/{user}"),
            by_user_loans.get(user, {}),
            by_user_accounts.get(user, {}),
            config,
            now,
        )
        for user in sorted(users)
    }
