"""The FOLIO bridge's consumer on a real broker: which of FOLIO's topics it reads, and when it notices new ones."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from folio_records import balance_changed, user_created
from folio_world import FolioWorld

from connectors.folio.source import FolioSource
from connectors.runtime import Publisher, StateStore

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)


def uid() -> str:
    return str(uuid.uuid4())


def test_the_source_subscribes_to_the_folio_topics_that_exist_by_name(folio: FolioWorld) -> None:
    folio.users(user_created(uid(), "2019100123", T0))
    folio.fines(balance_changed(uid(), uid(), "5000.00"))
    folio.send(f"{folio.env}.other-tenant.users.users", b"{}")  # another tenant's topic is not FOLIO's for us
    source = FolioSource(folio.kafka(), folio.topics)
    try:
        source.poll(10, 0)
        assert source.subscribed == sorted([folio.topics.users, folio.fines_topic])
    finally:
        source.close()


def test_a_balance_topic_of_a_new_mod_feesfines_version_is_read_after_the_next_listing(folio: FolioWorld) -> None:
    patron = uid()
    folio.users(user_created(patron, "2019100123", T0))
    bridge = folio.bridge(relist_seconds=0.5)
    publisher = Publisher(folio.settings, folio.our_topic)
    state = StateStore(folio.state_url, "folio")
    try:
        assert bridge.run_pass(publisher, state).published == 1
        newer = f"{folio.topics.fines_prefix}mod-feesfines-20.0.0"
        folio.send(newer, balance_changed(uid(), patron, "7000.00"))
        time.sleep(0.6)
        assert bridge.run_pass(publisher, state).published == 1
        assert newer in bridge.source.subscribed
    finally:
        bridge.close()
        state.close()
        publisher.close()
    assert [e["type"] for e in folio.published(at_least=2)] == ["library.patron.linked", "library.fine.assessed"]


def test_a_source_started_before_folio_made_its_topics_reads_them_once_they_exist(folio: FolioWorld) -> None:
    source = FolioSource(folio.kafka(), folio.topics)
    try:
        assert source.poll(10, 100) == [] and source.subscribed == []
        folio.users(user_created(uid(), "2019100123", T0))
        deadline = time.monotonic() + 60
        records = []
        while not records and time.monotonic() < deadline:
            records = source.poll(10, 500)
        assert [r.topic for r in records] == [folio.topics.users]
    finally:
        source.close()
