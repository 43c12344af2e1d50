"""``clearance status`` and ``clearance applications show`` over a store the real handler filled.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from kafka import KafkaProducer
from timeline import T0

from clearance.cli.main import main
from clearance.services.batch import handle_batch
from clearance.services.results import DeadLetter
from clearance.settings import Settings
from clearance.store.unit_of_work import SqlUnitOfWork
from producers.topics import ensure_topics
from schemas.registry import Topic


def _cli(database_url: str, *args: str, **env: str) -> Result:
    environment = {"CLEARANCE_DATABASE_URL": database_url, "CLEARANCE_LOG_LEVEL": "error", **env}
    return CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)


def _rows(output: str) -> list[list[str]]:
    """The cells of every table row rich printed."""
    return [[c.strip() for c in line.strip().strip("│").split("│")] for line in output.splitlines() if "│" in line]


def _blocked_student(apply, registrar, library, desk) -> None:
    """S1 at the engineering library: a book out, a fine half paid, a deposit not yet accepted."""
    apply(
        library.patron_linked("fk-teknik", "P1", "S1"),
        library.loan_opened(
            "fk-teknik", "L1", "P1", item_id="B0001234", title="Mekanika Fluida",
            borrowed_at=T0 - timedelta(days=60), due_at=T0 - timedelta(days=30), time=T0 - timedelta(days=60),
        ),
        library.fine_assessed("fk-teknik", "F1", "P1", "15000", reason="late return", time=T0 - timedelta(days=5)),
        library.fine_paid("fk-teknik", "F1", "P1", "5000", time=T0 - timedelta(days=4)),
        desk.deposit_submitted("DEP-S1", "S1", "Analisis Debit Sungai Brantas"),
        registrar.application_submitted(
            "APP-1", "S1", full_name="Siti Rahmawati", faculty="Teknik", program="Teknik Sipil"
        ),
    )  # fmt: skip


def _cleared_student(apply, registrar, library, desk) -> None:
    apply(
        library.patron_linked("central", "P2", "S2"),
        desk.deposit_submitted("DEP-S2", "S2", "Sistem Informasi Perpustakaan"),
        desk.deposit_accepted("DEP-S2", "S2", repository_id="hdl:123/9", time=T0 + timedelta(hours=1)),
        registrar.application_submitted(
            "APP-2", "S2", full_name="Budi Santoso", faculty="MIPA", program="Ilmu Komputer"
        ),
    )


def test_show_explains_every_reason_a_student_is_blocked(database_url, apply, registrar, library, desk) -> None:
    _blocked_student(apply, registrar, library, desk)
    result = _cli(database_url, "applications", "show", "S1")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Student S1 - Siti Rahmawati" in out
    assert "Why APP-1 is blocked" in out
    for expected in ("OUTSTANDING_LOAN", "Mekanika Fluida (item B0001234, loan L1)", "UNPAID_FINES", "10000 IDR",
                     "THESIS_NOT_ACCEPTED", "deposit DEP-S1", "state submitted"):  # fmt: skip
        assert expected in out, expected
    loans = out[out.index("Loans") :]
    assert "L1" in loans and "open" in loans
    fines = out[out.index("Fines") :]
    assert "late return" in fines and "15000" in fines and "5000" in fines and "10000" in fines
    assert "fk-teknik" in out[out.index("Patron records") :]


def test_show_gives_a_cleared_students_certificate_and_no_reasons(database_url, apply, registrar, library, desk):
    _cleared_student(apply, registrar, library, desk)
    result = _cli(database_url, "applications", "show", "S2")
    assert result.exit_code == 0, result.output
    assert "cleared" in result.output
    assert "BP/2026-2/0000001" in result.output
    assert "Why APP-2" not in result.output
    assert "hdl:123/9" in result.output and "accepted" in result.output


def test_show_lists_dead_letters_keyed_by_the_students_patron_id(
    database_url, apply, registrar, library, desk, session_factory, context
) -> None:
    _blocked_student(apply, registrar, library, desk)
    letter = DeadLetter("library.circulation", 2, 41, b"P1", b"{oops", "invalid-json", "not UTF-8 JSON")
    with SqlUnitOfWork(session_factory) as uow:
        handle_batch(uow, [], [letter], context)
        uow.commit()
    result = _cli(database_url, "applications", "show", "S1")
    assert "Dead letters keyed by this student" in result.output
    assert "library.circulation[2]@41" in result.output and "invalid-json" in result.output


def test_show_refuses_a_student_the_service_never_heard_of(database_url) -> None:
    result = CliRunner().invoke(main, ["applications", "show", "NOBODY"], env={"CLEARANCE_DATABASE_URL": database_url})
    assert result.exit_code == 1
    assert "no application, patron link or deposit of student 'NOBODY'" in result.output


def test_status_counts_applications_backlog_and_dead_letters(
    database_url, apply, registrar, library, desk, session_factory, context
) -> None:
    _blocked_student(apply, registrar, library, desk)
    _cleared_student(apply, registrar, library, desk)
    letter = DeadLetter("thesis.deposits", 0, 7, b"S9", b"\xff", "invalid-json", "not UTF-8 JSON")
    with SqlUnitOfWork(session_factory) as uow:
        handle_batch(uow, [], [letter], context)
        uow.commit()
    result = _cli(database_url, "status", "--no-broker")
    assert result.exit_code == 0, result.output
    out = result.output
    rows = {cells[0]: cells[1:] for cells in _rows(out)}
    assert rows["blocked"] == ["1"] and rows["cleared"] == ["1"] and rows["pending"] == ["0"]
    # Nothing relayed yet: two status changes, one certificate and one dead letter wait in the outbox.
    assert "Outbox: 4 waiting to be published" in out
    assert rows["clearance.status"] == ["2"] and rows["clearance.certificates"] == ["1"]
    assert "Dead letters: 1 (1 never replayed)" in out
    assert rows["invalid-json"] == ["1"]
    assert "lag not asked (--no-broker)" in out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_status_still_reports_the_store_when_the_broker_is_unreachable_and_exits_3(database_url) -> None:
    unreachable = f"127.0.0.1:{_closed_port()}"
    result = _cli(database_url, "status", "--timeout", "1.5", CLEARANCE_KAFKA_BOOTSTRAP_SERVERS=unreachable)
    assert result.exit_code == 3, result.output
    assert "lag unknown: broker 127.0.0.1:" in result.output
    assert "Applications: 0" in result.output


@pytest.mark.kafka
def test_status_shows_lag_per_partition_from_the_broker_and_the_stored_positions(
    database_url, session_factory, kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    settings = Settings(kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=prefix, topic_partitions=2)
    ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for _ in range(4):
        producer.send(settings.topic(Topic.CIRCULATION), key=b"P1", value=b"{}", partition=0).get(timeout=30)
    producer.close()
    with SqlUnitOfWork(session_factory) as uow:
        uow.positions.save({(Topic.CIRCULATION.value, 0): 1}, datetime.now(UTC))
        uow.commit()
    result = _cli(
        database_url, "status", CLEARANCE_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, CLEARANCE_TOPIC_PREFIX=prefix
    )
    assert result.exit_code == 0, result.output
    rows = [r for r in _rows(result.output) if r[0].startswith(prefix)]
    by_partition = {(r[0], r[1]): r[2:] for r in rows}
    assert by_partition[(f"{prefix}library.circulation", "0")] == ["1", "4", "3"]
    assert by_partition[(f"{prefix}library.circulation", "1")] == ["-", "0", "0"]
    assert by_partition[(f"{prefix}graduation.applications", "0")] == ["-", "0", "0"]


def test_an_unreachable_database_is_a_clear_error_not_a_traceback() -> None:
    url = f"postgresql://clearance:s3cret@127.0.0.1:{_closed_port()}/clearance"
    for args in (["status", "--no-broker"], ["applications", "show", "S1"]):
        result = CliRunner().invoke(main, args, env={"CLEARANCE_DATABASE_URL": url})
        assert result.exit_code == 1, result.output
        assert "Error: cannot read the database at postgresql+psycopg://clearance:***@127.0.0.1" in result.output
        assert "s3cret" not in result.output and "Traceback" not in result.output


def test_rows_set_aside_are_shown_by_status_and_dlq_list_and_released_by_dlq_release(
    apply, session_factory, database_url, registrar, library, desk
) -> None:
    _cleared_student(apply, registrar, library, desk)
    with SqlUnitOfWork(session_factory) as uow:
        row = uow.outbox.unpublished(1)[0]
        uow.outbox.set_aside(row.id, datetime.now(UTC), "MessageSizeTooLargeError: over the broker's limit")
        uow.commit()
    status = _cli(database_url, "status", "--no-broker")
    assert "1 set aside" in status.output
    listing = _cli(database_url, "dlq", "list")
    assert "outbox rows set aside" in listing.output and "MessageSizeTooLargeError" in listing.output
    released = _cli(database_url, "dlq", "release")
    assert "released 1 outbox rows" in released.output
    with SqlUnitOfWork(session_factory) as uow:
        assert uow.outbox.set_aside_rows() == []


def test_status_says_when_the_service_runs_open_and_names_the_trust_file_otherwise(database_url, tmp_path) -> None:
    unreachable = f"127.0.0.1:{_closed_port()}"
    open_ = _cli(database_url, "status", "--no-broker", CLEARANCE_KAFKA_BOOTSTRAP_SERVERS=unreachable)
    assert "Producer trust: OPEN" in open_.output
    trust = tmp_path / "trust.toml"
    trust.write_text(
        '[[rule]]\ntopic = "thesis.deposits.etd"\nsources = ["urn:repository:etd"]\ntypes = ["thesis.*"]\n'
    )
    bound = _cli(database_url, "status", "--no-broker", CLEARANCE_TRUST_FILE=str(trust))
    assert f"Producer trust: {trust}" in bound.output
