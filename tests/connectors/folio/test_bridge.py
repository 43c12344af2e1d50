"""The FOLIO bridge over a real broker: FOLIO's records on FOLIO's topics in, contract events on ours out."""

from __future__ import annotations

import os
import signal
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from folio_records import LoanStory, balance_changed, user_created
from folio_world import FolioWorld

from clearance.settings import Settings
from connectors.runtime import Publisher, PublishError, StateStore

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)


def uid() -> str:
    return str(uuid.uuid4())


def a_semester_at_folio(folio: FolioWorld) -> dict[str, str]:
    """A checkout, renewal, loss and check-in, a loan before its user, an account assessed, part paid, deleted."""
    patron, newcomer, account = uid(), uid(), uid()
    folio.users(user_created(patron, "2019100123", T0))
    returned, lost, early = LoanStory(patron, T0), LoanStory(patron, T0), LoanStory(newcomer, T0)
    folio.loans(
        returned.checkout(), returned.renew(T0 + timedelta(days=10)), returned.check_in(T0 + timedelta(days=20)),
        lost.checkout(), lost.renew(T0 + timedelta(days=12)), lost.declare_lost(T0 + timedelta(days=40)),
        early.checkout(),
    )  # fmt: skip
    folio.users(user_created(newcomer, "2019100999", T0 + timedelta(days=5)))
    folio.fines(
        balance_changed(account, patron, "15000.00", loan_id=returned.loan.id),
        balance_changed(account, patron, "5000.00", loan_id=returned.loan.id),
        balance_changed(account, None, "0"),
    )
    return {"patron": patron, "newcomer": newcomer, "account": account, "early_loan": early.loan.id}


EXPECTED = Counter(
    {
        "library.patron.linked": 2,
        "library.loan.opened": 3,
        "library.loan.renewed": 2,
        "library.loan.returned": 1,
        "library.loan.lost": 1,
        "library.fine.assessed": 1,
        "library.fine.paid": 1,
        "library.fine.waived": 1,
    }
)


def test_folio_records_become_contract_events_keyed_by_the_folio_user(folio: FolioWorld) -> None:
    ids = a_semester_at_folio(folio)
    result = folio.run_pass()
    events = folio.published(at_least=12)
    assert Counter(e["type"] for e in events) == EXPECTED
    assert result.published == 12 and result.unmappable == 0
    early = next(e for e in events if e["type"] == "library.loan.opened" and e["data"]["loan_id"] == ids["early_loan"])
    assert early["subject"] == ids["newcomer"] and early["data"]["patron_id"] == ids["newcomer"]
    fines = [e for e in events if e["type"].startswith("library.fine.")]
    assert [(e["type"], e["data"].get("amount")) for e in fines] == [
        ("library.fine.assessed", "15000"), ("library.fine.paid", "10000"), ("library.fine.waived", None),
    ]  # fmt: skip
    assert {e["source"] for e in events} == {"urn:library:central"}


def test_a_rerun_from_the_start_publishes_no_new_ids(folio: FolioWorld) -> None:
    a_semester_at_folio(folio)
    folio.run_pass()
    first = {e["id"] for e in folio.published(at_least=12)}
    folio.run_pass(group_id=f"{folio.group_id}-again")  # same state, FOLIO's topics from the start
    folio.run_pass(group_id=f"{folio.group_id}-afresh", state_url=f"sqlite:///{folio.workdir / 'afresh.db'}")
    assert {e["id"] for e in folio.published(at_least=12, settle=2.0)} == first


def test_a_pass_commits_folio_offsets_after_our_broker_acknowledged(folio: FolioWorld) -> None:
    a_semester_at_folio(folio)
    assert set(folio.committed().values()) == {None}
    folio.run_pass()
    committed = folio.committed()
    assert committed and all(offset is not None for key, offset in committed.items() if "circulation.loan" in key)


def test_a_failed_publish_commits_nothing_and_the_next_pass_reads_the_batch_again(folio: FolioWorld) -> None:
    a_semester_at_folio(folio)
    unreachable = Publisher(Settings(kafka_bootstrap_servers="127.0.0.1:9", topic_prefix=folio.prefix), "x")
    ours = Publisher(folio.settings, folio.our_topic)
    bridge, state = folio.bridge(), StateStore(folio.state_url, "folio")
    try:
        with pytest.raises(PublishError):
            bridge.run_pass(unreachable, state)
        assert set(folio.committed().values()) == {None}
        assert state.scan("") == {}, "no state is written for what was not acknowledged"
        result = bridge.run_pass(ours, state)  # the same consumer, as the runner's retry uses it
    finally:
        bridge.close()
        state.close()
        ours.close()
    assert result.published == 12
    assert Counter(e["type"] for e in folio.published(at_least=12)) == EXPECTED


def test_an_unmappable_record_is_counted_and_the_rest_goes_on(folio: FolioWorld) -> None:
    patron = uid()
    folio.loans(b'{"type": "CREATED", "data": {"new": {"id": "broken"}}}', LoanStory(patron, T0).checkout())
    result = folio.run_pass()
    assert (result.published, result.unmappable) == (1, 1)
    [opened] = folio.published(at_least=1)
    assert opened["type"] == "library.loan.opened"


def test_a_bridge_killed_before_our_broker_acknowledged_leaves_folio_to_be_read_again(folio: FolioWorld) -> None:
    a_semester_at_folio(folio)
    black_hole = {
        **os.environ,
        "CLEARANCE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "CLEARANCE_TOPIC_PREFIX": folio.prefix,
    }
    stuck = folio.spawn(black_hole, "--interval", "1")
    assert stuck.stderr is not None
    for line in stuck.stderr:  # it read FOLIO's records and could not get them acknowledged
        if "connector_pass_failed" in line:
            break
    stuck.send_signal(signal.SIGKILL)
    stuck.wait(timeout=30)
    assert set(folio.committed().values()) == {None}
    ours = {**os.environ, "CLEARANCE_KAFKA_BOOTSTRAP_SERVERS": folio.bootstrap, "CLEARANCE_TOPIC_PREFIX": folio.prefix}
    _, stderr = folio.spawn(ours, "--once").communicate(timeout=300)
    assert Counter(e["type"] for e in folio.published(at_least=12)) == EXPECTED, stderr[-2000:]
