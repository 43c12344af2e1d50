"""``--resync``: the bridge restates what it knows of a patron as a ``library.patron.snapshot``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from folio_records import LoanStory, balance_changed, user_created
from folio_world import FolioWorld

from connectors.folio.command import command

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)


def uid() -> str:
    return str(uuid.uuid4())


def resync(folio: FolioWorld, who: str) -> None:
    args = [
        "--folio-bootstrap-servers", folio.bootstrap, "--env", folio.env, "--tenant", "diku", "--library-id",
        "central", "--folio-group-id", folio.group_id, "--folio-session-timeout-ms", "6000",
        "--folio-heartbeat-interval-ms", "1000", "--state-url", folio.state_url, "--resync", who,
    ]  # fmt: skip
    env = {"CLEARANCE_KAFKA_BOOTSTRAP_SERVERS": folio.bootstrap, "CLEARANCE_TOPIC_PREFIX": folio.prefix,
           "CLEARANCE_LOG_FORMAT": "console"}  # fmt: skip
    outcome = CliRunner().invoke(command, args, env=env)
    assert outcome.exit_code == 0, outcome.output


def test_a_resync_publishes_what_the_bridge_knows_of_the_patron(folio: FolioWorld) -> None:
    patron, account = uid(), uid()
    kept, returned = LoanStory(patron, T0), LoanStory(patron, T0)
    folio.users(user_created(patron, "2019100123", T0))
    folio.loans(kept.checkout(), returned.checkout(), returned.check_in(T0 + timedelta(days=3)))
    folio.fines(balance_changed(account, patron, "15000.00"), balance_changed(account, patron, "5000.00"))
    folio.run_pass()
    facts = folio.published(at_least=6)
    resync(folio, patron)
    events = folio.published(at_least=8)
    [snapshot] = [e for e in events if e["type"] == "library.patron.snapshot"]
    assert snapshot["subject"] == patron
    data = snapshot["data"]
    assert [loan["loan_id"] for loan in data["open_loans"]] == [kept.loan.id]
    assert (data["fine_balance"], data["currency"], data["library_id"]) == ("5000", "IDR", "central")
    latest = max(datetime.fromisoformat(e["time"]) for e in facts)
    assert datetime.fromisoformat(data["as_of"]) > latest, "every fact published is older than the snapshot"
    links = [e for e in events if e["type"] == "library.patron.linked"]
    assert len({e["id"] for e in links}) == 1, "the link is restated under its original id"


def test_resync_all_restates_every_patron_the_bridge_knows(folio: FolioWorld) -> None:
    patrons = [uid() for _ in range(3)]
    folio.loans(*(LoanStory(p, T0).checkout() for p in patrons))
    resync(folio, "all")  # catches up first, then restates
    snapshots = [e for e in folio.published(at_least=6) if e["type"] == "library.patron.snapshot"]
    assert sorted(e["subject"] for e in snapshots) == sorted(patrons)
    assert all(len(e["data"]["open_loans"]) == 1 for e in snapshots)
