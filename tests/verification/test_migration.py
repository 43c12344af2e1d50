"""Migration 0003 on SQLite and PostgreSQL: certificates issued before it get a token each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from services import fresh_postgres_database
from sqlalchemy import create_engine, inspect, text

from clearance.store.engine import normalise_url
from clearance.store.migrate import upgrade


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema yet, so the test can stop at an earlier revision."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


def test_certificates_issued_before_the_migration_get_distinct_tokens(empty_database: str) -> None:
    upgrade(empty_database, "0002")
    engine = create_engine(normalise_url(empty_database))
    with engine.begin() as connection:
        for n in range(1, 2502):  # more than one backfill chunk
            connection.execute(
                text(
                    "INSERT INTO certificates (number, application_id, student_id, key_id, issued_at, document) "
                    "VALUES (:number, :application, 'S', '2026-1', '2026-11-24T10:00:00+07:00', '{}')"
                ),
                {"number": f"BP/2026-2/{n:07d}", "application": f"APP-{n}"},
            )
    upgrade(empty_database)
    with engine.connect() as connection:
        tokens = connection.execute(text("SELECT verification_token FROM certificates")).scalars().all()
    columns = {c["name"]: c for c in inspect(engine).get_columns("certificates")}
    indexes = {i["name"] for i in inspect(engine).get_indexes("certificates")}
    engine.dispose()
    assert len(tokens) == 2501
    assert len(set(tokens)) == 2501
    assert all(isinstance(t, str) and len(t) == 43 for t in tokens)
    assert columns["verification_token"]["nullable"] is False
    assert "ix_certificates_student_id" in indexes  # SQLite's table rebuild kept the index


def test_the_migration_downgrades_cleanly(empty_database: str) -> None:
    from alembic import command

    from clearance.store.migrate import alembic_config

    upgrade(empty_database)
    engine = create_engine(normalise_url(empty_database))
    with engine.begin() as connection:
        config = alembic_config(empty_database)
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    columns = {c["name"] for c in inspect(engine).get_columns("certificates")}
    engine.dispose()
    assert "verification_token" not in columns


def test_migration_0006_backfills_token_hashes_and_stable_status_indexes(empty_database: str) -> None:
    import hashlib

    upgrade(empty_database, "0005")
    engine = create_engine(normalise_url(empty_database))
    insert = text(
        "INSERT INTO certificates (number, application_id, student_id, key_id, issued_at, document, "
        "verification_token) "
        "VALUES (:number, :application, 'S', '2026-1', :issued, '{}', :token)"
    )
    with engine.begin() as connection:
        for n in range(1, 1202):  # more than one backfill chunk; issued in the reverse order of their numbers
            connection.execute(insert, {"number": f"BP/2026-2/{n:07d}", "application": f"APP-{n}",
                                        "issued": f"2026-11-24T10:{(1201 - n) // 60:02d}:{(1201 - n) % 60:02d}+07:00",
                                        "token": f"token-{n}"})  # fmt: skip
    upgrade(empty_database)
    with engine.begin() as connection:
        rows = connection.execute(text(
            "SELECT number, verification_token, verification_token_sha256, status_index FROM certificates"
        )).all()  # fmt: skip
        connection.execute(insert, {"number": "BP/2026-2/9999999", "application": "APP-new",
                                    "issued": "2026-11-25T10:00:00+07:00", "token": "token-new"})  # fmt: skip
        new_index = connection.execute(
            text("SELECT status_index FROM certificates WHERE number = 'BP/2026-2/9999999'")
        ).scalar()
    indexes = {i["name"] for i in inspect(engine).get_indexes("certificates")}
    engine.dispose()
    assert all(h == hashlib.sha256(t.encode()).hexdigest() for _n, t, h, _i in rows)
    by_number = {n: i for n, _t, _h, i in rows}
    assert sorted(by_number.values()) == list(range(1201))
    assert by_number["BP/2026-2/0001201"] == 0 and by_number["BP/2026-2/0000001"] == 1200  # in issue order
    assert new_index == 1201  # the database hands out the next one, whoever inserts
    assert {"ix_certificates_token_sha256", "ix_certificates_status_index", "ix_certificates_student_id"} <= indexes
