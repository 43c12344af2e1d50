"""The bare durable consumer keeps what it consumed, once per event, on both database kinds (no timing asserted)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from services import fresh_postgres_database
from sqlalchemy import create_engine, text

from bench.durable import TABLE, consume
from bench.references import create_topics
from bench.traffic import publish_all
from bench.workload import CirculationMix

pytestmark = pytest.mark.kafka


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bare.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


def test_the_bare_durable_consumer_stores_each_event_once(kafka_bootstrap: str, scratch_url: str) -> None:
    topic = f"bench-test-{uuid.uuid4().hex[:8]}.circulation"
    create_topics(kafka_bootstrap, [topic], 2)
    records = list(CirculationMix(40, seed=7).records(25))
    # Five events delivered twice, as a redelivery would: the table keeps one row for each.
    publish_all(kafka_bootstrap, topic, records + records[:5])

    result = consume(kafka_bootstrap, topic, 30, 500, scratch_url, timeout=60)

    assert result["records"] == 30 and result["polls"] >= 1 and result["per_second"] > 0
    engine = create_engine(scratch_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT source, id, type, data FROM {TABLE}")).all()
    finally:
        engine.dispose()
    sent = [json.loads(r.value) for r in records]
    assert sorted((r.source, r.id) for r in rows) == sorted((e["source"], e["id"]) for e in sent)
    by_id = {e["id"]: e for e in sent}
    assert all(json.loads(r.data) == by_id[r.id]["data"] and r.type == by_id[r.id]["type"] for r in rows)
