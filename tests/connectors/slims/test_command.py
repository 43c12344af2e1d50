"""``connect slims`` refuses bad options with a clear message and no traceback."""

from __future__ import annotations

import socket

from click.testing import CliRunner

from connectors.cli import connect


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(connect, ["slims", *args, "--once", "--metrics-port", "0"])


def test_a_column_and_a_pattern_together_are_refused() -> None:
    result = _invoke("--dsn", "mysql+pymysql://u@h/db", "--library-id", "central",
                     "--student-id-column", "member_notes", "--student-id-pattern", "M-(\\d+)")  # fmt: skip
    assert result.exit_code == 2
    assert "not both" in result.output


def test_a_dsn_of_another_database_is_refused() -> None:
    result = _invoke("--dsn", "postgresql://u@h/db", "--library-id", "central")
    assert result.exit_code == 1
    assert "mysql+pymysql://" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unknown_currency_is_refused() -> None:
    result = _invoke("--dsn", "mysql+pymysql://u@h/db", "--library-id", "central", "--currency", "RPH")
    assert result.exit_code == 2
    assert "ISO 4217" in result.output


def test_an_unreachable_database_fails_the_pass_and_the_log_keeps_its_password() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _invoke("--dsn", f"mysql+pymysql://clearance:rahasia-sekali@127.0.0.1:{port}/slims", "--library-id", "c")
    assert result.exit_code == 1
    assert "connector_pass_failed" in result.output
    assert "rahasia-sekali" not in result.output


def test_a_student_id_column_that_is_not_in_member_is_refused(slims_url: str) -> None:
    result = _invoke("--dsn", slims_url, "--library-id", "central", "--student-id-column", "nim")
    assert result.exit_code == 1
    assert "member has no column 'nim'" in result.output
