"""The demo's producer trust (G11): every simulated producer on its own topic, a trust file binding each,
and one forged event that the service refuses.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from clearance.demo.eventfactory import EventFactory, topic_of
from schemas.registry import Topic

_TYPES = {Topic.CIRCULATION: "library.*", Topic.DEPOSITS: "thesis.deposit.*", Topic.APPLICATIONS: "graduation.*"}


def producer_of(source: str) -> str:
    """The producer a ``source`` names: its URN's last part (``urn:library:fk-teknik`` is ``fk-teknik``)."""
    return source.rsplit(":", 1)[-1]


def stream_of(event: dict[str, Any]) -> str:
    """The per-producer topic (without the prefix) an event is published on by its producer."""
    return f"{topic_of(event).value}.{producer_of(event['source'])}"


def trust_file_text(events: Iterable[dict[str, Any]]) -> str:
    """A trust file with one rule per producer of ``events``: its topic, its source, its types, its library."""
    rules: dict[str, str] = {}
    for event in events:
        stream = stream_of(event)
        if stream in rules:
            continue
        topic = topic_of(event)
        rule = (f'[[rule]]\ntopic = "{stream}"\nsources = ["{event["source"]}"]\n'
                f'types = ["{_TYPES[topic]}"]\n')  # fmt: skip
        if topic is Topic.CIRCULATION:
            rule += f'library_ids = ["{producer_of(event["source"])}"]\n'
        rules[stream] = rule
    return "# The demo's producers, each bound to its own topic (docs/contract.md#trust-file).\n\n" + "\n".join(
        rules[s] for s in sorted(rules)
    )


def write_trust_file(path: Path, events: Iterable[dict[str, Any]]) -> Path:
    """Write the trust file of ``events``' producers to ``path``."""
    path.write_text(trust_file_text(events), encoding="utf-8")
    return path


def forged_return(events: Iterable[dict[str, Any]], student_patrons: dict[str, str]) -> dict[str, Any] | None:
    """A return of a blocked student's loan, sent by *another* library speaking for the lending one.

    ``student_patrons`` maps the patron ids of the student to forge for; the first loan of theirs
    that is opened and never returned is the one the forgery claims back.
    """
    loans = [e for e in events if e["type"] == "library.loan.opened" and e["data"]["patron_id"] in student_patrons]
    returned = {e["data"]["loan_id"] for e in events if e["type"] == "library.loan.returned"}
    for loan in loans:
        data = loan["data"]
        if data["loan_id"] in returned:
            continue
        other = "central" if data["library_id"] != "central" else "fk-teknik"
        forger = EventFactory(f"urn:library:{other}", lambda moment=loan["time"]: moment)
        return forger.loan_returned(data["library_id"], data["loan_id"], data["patron_id"], loan["time"])
    return None
