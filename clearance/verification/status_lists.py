"""The issuer's Bitstring Status Lists, derived from the register and stored signed for the verifier to serve.

The bit of a certificate is set when the register has it revoked
(``revoked_at``); its place is the certificate's ``status_index`` (migration
0006), list ``index // bits``, position ``index % bits``. Signing needs the
private key, so the signing side publishes (:func:`publish`) and the public
verifier, which holds no private key, serves what was stored (:func:`stored`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.documents.credential import sign_credential
from clearance.documents.status_list import list_url, unsecured_status_list
from clearance.signing.keys import SigningKey
from clearance.verification import register

STATUS_LISTS = sa.table(
    "status_lists",
    sa.column("list_number", sa.Integer),
    sa.column("credential", sa.Text),
    sa.column("revoked_indexes_sha256", sa.String),
    sa.column("published_at", sa.String),
)


def _digest(positions: list[int]) -> str:
    return hashlib.sha256(",".join(map(str, positions)).encode("ascii")).hexdigest()


def list_numbers(session: Session, bits: int) -> range:
    """The lists the register's certificates fall in (list 0 even for an empty register)."""
    top = register.highest_status_index(session)
    return range((top // bits if top is not None else 0) + 1)


def revoked_positions(session: Session, list_number: int, bits: int) -> list[int]:
    """The positions set in list ``list_number``: its revoked certificates."""
    first = list_number * bits
    return [i - first for i in register.revoked_indexes(session, first, first + bits)]


def publish(
    session: Session, *, base_url: str, issuer_did: str, issuer_name: str, bits: int, key: SigningKey,
    now: datetime,
) -> list[int]:  # fmt: skip
    """Sign and store every list whose revocations changed since it was stored; the numbers of those lists."""
    changed = []
    for number in list_numbers(session, bits):
        positions = revoked_positions(session, number, bits)
        digest = _digest(positions)
        stored_digest = session.scalar(
            select(STATUS_LISTS.c.revoked_indexes_sha256).where(STATUS_LISTS.c.list_number == number)
        )
        if stored_digest == digest:
            continue
        stamp = now.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        unsigned = unsecured_status_list(
            list_url(base_url, number), issuer_did=issuer_did, issuer_name=issuer_name, revoked=positions,
            bits=bits, valid_from=stamp,
        )  # fmt: skip
        signed = sign_credential(unsigned, key, now)
        session.execute(sa.delete(STATUS_LISTS).where(STATUS_LISTS.c.list_number == number))
        session.execute(sa.insert(STATUS_LISTS).values(
            list_number=number, credential=json.dumps(signed, ensure_ascii=False, separators=(",", ":")),
            revoked_indexes_sha256=digest, published_at=now.astimezone(UTC).isoformat(),
        ))  # fmt: skip
        changed.append(number)
    return changed


def stored(session: Session, list_number: int) -> dict[str, Any] | None:
    """The signed status list ``list_number`` as last published, or None."""
    text = session.scalar(select(STATUS_LISTS.c.credential).where(STATUS_LISTS.c.list_number == list_number))
    return json.loads(text) if text is not None else None


def is_current(session: Session, list_number: int, bits: int) -> bool:
    """Whether the stored list ``list_number`` reflects every revocation in the register."""
    stored_digest = session.scalar(
        select(STATUS_LISTS.c.revoked_indexes_sha256).where(STATUS_LISTS.c.list_number == list_number)
    )
    return stored_digest == _digest(revoked_positions(session, list_number, bits))
