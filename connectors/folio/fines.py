"""Pure mapping of mod-feesfines' ``FEE_FINE_BALANCE_CHANGED`` to the contract's fine events.

FOLIO says only what remains owed on an account (``balance``); the contract speaks of
fines assessed, paid (partial payments add up) and waived. The bridge remembers, per
account, its owner, its last balance and which fine id of ours currently stands for it
(the account's *part*):

- first sight with a balance: ``library.fine.assessed`` (fine id = the account id,
  amount = balance, currency from ``--currency``, reason = the fee/fine type);
- balance lowered: ``library.fine.paid`` of the decrease (FOLIO's pay, waive, transfer
  and cancel all lower the balance; the contract needs only that less is owed);
- balance raised: *waive and re-assess*: ``library.fine.waived`` of the current part,
  then ``library.fine.assessed`` of a new part ``<account id>:<n>`` for the whole new
  balance. The service's fine is a register plus payments, and a patron snapshot counts
  fines assessed before it through its balance; a new part keeps both exact, where
  re-assessing the same fine id would count the snapshot's share twice;
- an account deleted (payload without ``userId``, balance 0): ``library.fine.waived``;
- a record already applied to the account (same pub-sub event id) publishes nothing,
  so a re-read from the start does not take old balances for new changes.

Event ids derive from the account id and the pub-sub event's id; ``sequence`` is the
account's change count, ``time`` the Kafka record's timestamp (the payload has none).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from connectors.folio.contract import BridgeConfig, Draft, Mapped, StateLookup, amount, cloud_event, first_time
from connectors.folio.records import BalanceChanged, PubSubEvent, UnmappableRecord, parse_json
from connectors.runtime import Outgoing

# How many applied pub-sub event ids an account remembers; accounts change a handful of times.
APPLIED_KEPT = 200

# mod-feesfines' automatic fee/fine types (populate-feefines.sql); other types are the library's own.
AUTOMATIC_TYPES = {
    "9523cb96-e752-40c2-89da-60f3961a488d": "Overdue fine",
    "d20df2fb-45fd-4184-b238-0d25747ffdd9": "Replacement processing fee",
    "cf238f9f-7018-47b7-b815-bb2db798e19f": "Lost item fee",
    "73785370-d3bd-4d92-942d-ae2268e02ded": "Lost item fee (actual cost)",
    "c7dede15-aa48-45ed-860b-f996540180e0": "Lost item processing fee",
}


def fine_reason(fee_fine_type_id: str | None) -> str:
    """The ``reason`` of an assessed fine: the automatic type's name, else the type id."""
    if fee_fine_type_id is None:
        return "FOLIO fee/fine"
    return AUTOMATIC_TYPES.get(fee_fine_type_id, f"FOLIO fee/fine type {fee_fine_type_id}")


def part_id(account_id: str, n: int) -> str:
    """Our fine id for the ``n``-th assessment of an account: the account id first, then ``<id>:<n>``."""
    return account_id if n == 0 else f"{account_id}:{n}"


def map_balance_event(
    value: bytes | None,
    position: str,
    record_time: datetime | None,
    lookup: StateLookup,
    config: BridgeConfig,
    now: datetime,
) -> Mapped:
    """The contract events and state changes of one ``FEE_FINE_BALANCE_CHANGED`` pub-sub record.

    ``position`` (topic/partition/offset) identifies the record when the pub-sub event has
    no id; ``record_time`` is the Kafka record's timestamp.
    """
    event: PubSubEvent = parse_json(value, PubSubEvent, "pub-sub event")
    change = event.balance_changed()
    applied_id = event.id or change.id or position
    draft = Draft(lookup)
    key = f"account/{change.feeFineId}"
    account = draft.get(key)
    if account is not None and applied_id in account["applied"]:
        return draft.mapped
    if account is None:
        if change.userId is None:
            raise UnmappableRecord("balance change without userId of an account never seen", change.feeFineId)
        account = {
            "user": change.userId, "balance": "0", "part": None, "parts": 0, "type": change.feeFineTypeId,
            "loan": change.loanId, "seq": 0, "applied": [], "deleted": False,
        }  # fmt: skip
    account = dict(account)
    account["seq"] += 1
    account["type"] = change.feeFineTypeId or account["type"]
    account["loan"] = change.loanId or account["loan"]
    at = first_time(now, record_time)
    _apply(draft, account, change, applied_id, at, config)
    account["applied"] = [*account["applied"], applied_id][-APPLIED_KEPT:]
    draft.put(key, account)
    draft.touch_patron(account["user"], at)
    return draft.mapped


def _apply(
    draft: Draft, account: dict, change: BalanceChanged, applied_id: str, at: datetime, config: BridgeConfig
) -> None:
    user, account_id, seq = account["user"], change.feeFineId, account["seq"]
    before = Decimal(account["balance"])
    identity = ("account", account_id, applied_id)
    if change.userId is None:  # the account was deleted
        if account["part"] is not None and not account["deleted"]:
            draft.emit(_waived(config, user, account["part"], at, (*identity, "waived"), seq))
        account.update(balance="0", deleted=True)
        return
    after = change.balance
    account["deleted"] = False
    if after > before or (after > 0 and account["part"] is None):
        if account["part"] is not None:
            draft.emit(_waived(config, user, account["part"], at, (*identity, "waived"), seq))
        part = part_id(account_id, account["parts"])
        draft.emit(cloud_event(config, "library.fine.assessed", user, {
            "fine_id": part, "library_id": config.library_id, "patron_id": user,
            "amount": amount(after, account_id), "currency": config.currency,
            "reason": fine_reason(account["type"]), "loan_id": account["loan"],
        }, at, (*identity, "assessed"), seq))  # fmt: skip
        account.update(part=part, parts=account["parts"] + 1)
    elif after < before and account["part"] is not None:
        draft.emit(cloud_event(
            config, "library.fine.paid", user,
            {"fine_id": account["part"], "library_id": config.library_id, "amount": amount(before - after, account_id)},
            at, (*identity, "paid"), seq,
        ))  # fmt: skip
    account["balance"] = str(after)


def _waived(config: BridgeConfig, user: str, part: str, at: datetime, identity: tuple, seq: int) -> Outgoing:
    return cloud_event(
        config, "library.fine.waived", user, {"fine_id": part, "library_id": config.library_id}, at, identity, seq
    )
