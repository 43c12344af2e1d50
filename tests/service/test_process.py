"""`clearance run` as a process: a crashed worker ends it non-zero, a second one on a SQLite file is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from clearance.cli.main import main
from clearance.store.engine import Database, StoreInUse
from consumers.loop import ConsumerLoop


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    database = tmp_path / "clearance.db"
    for name, value in {
        "DATABASE_URL": f"sqlite:///{database}", "KEY_DIR": str(tmp_path / "keys"), "METRICS_PORT": "0",
        "CREATE_TOPICS": "false", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "LOG_FORMAT": "console",
    }.items():  # fmt: skip
        monkeypatch.setenv(f"CLEARANCE_{name}", value)
    return database


def test_a_worker_that_dies_makes_clearance_run_exit_non_zero(environment: Path, monkeypatch) -> None:
    def crash(self: ConsumerLoop) -> None:
        raise RuntimeError("a bug in a consumer loop")

    monkeypatch.setattr(ConsumerLoop, "run", crash)
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 1
    assert "a worker of the service crashed" in result.output


def test_a_second_service_on_one_sqlite_file_is_refused(environment: Path) -> None:
    first, second = Database(f"sqlite:///{environment}"), Database(f"sqlite:///{environment}")
    first.claim()
    try:
        with pytest.raises(StoreInUse, match="SQLite allows one service per file"):
            second.claim()
    finally:
        first.close()
        second.close()
    # Once the first is gone, the file is free again.
    third = Database(f"sqlite:///{environment}")
    third.claim()
    third.close()


def test_clearance_run_says_plainly_that_the_sqlite_file_is_taken(environment: Path) -> None:
    holder = Database(f"sqlite:///{environment}")
    holder.claim()
    try:
        result = CliRunner().invoke(main, ["run"])
    finally:
        holder.close()
    assert result.exit_code == 1
    assert "SQLite allows one service per file" in result.output and "Traceback" not in result.output
