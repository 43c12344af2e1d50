"""The command line's error boundary, its home in the demo's folder, and the operator's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy.exc import OperationalError

from clearance.cli.context import resolve_settings
from clearance.cli.dlq import SINCE
from clearance.cli.errors import BoundaryGroup, redact
from clearance.cli.status import local_time
from clearance.domain.policy import PolicyError


def _group_raising(exc: BaseException) -> click.Group:
    @click.group(cls=BoundaryGroup)
    def group() -> None:
        pass

    @group.command()
    def fail() -> None:
        raise exc

    return group


def test_an_expected_failure_is_one_line_with_exit_code_1() -> None:
    result = CliRunner().invoke(_group_raising(PolicyError("policy is not valid TOML: x")), ["fail"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: policy file: policy is not valid TOML: x; fix it, or unset CLEARANCE_POLICY")


def test_a_database_error_hides_the_password_of_any_url_it_quotes() -> None:
    error = OperationalError("SELECT 1", {}, Exception("cannot reach postgresql://app:hunter22@db:5432/x"))
    result = CliRunner().invoke(_group_raising(error), ["fail"])
    assert result.exit_code == 1
    assert "hunter22" not in result.output and "app:***@db" in result.output


def test_a_bug_keeps_its_traceback() -> None:
    result = CliRunner().invoke(_group_raising(ZeroDivisionError("a bug")), ["fail"])
    assert isinstance(result.exception, ZeroDivisionError)


def test_a_password_from_the_environment_is_hidden_wherever_it_appears() -> None:
    assert redact("login failed for s3cret and s3cret", ["s3cret"]) == "login failed for *** and ***"


def test_a_time_without_its_offset_is_refused_as_a_usage_error() -> None:
    with pytest.raises(click.BadParameter):
        SINCE.convert("yesterday", None, None)
    with pytest.raises(click.BadParameter):
        SINCE.convert("2026-11-24T08:00:00", None, None)
    assert SINCE.convert("2026-11-24T08:00:00+07:00", None, None).utcoffset().total_seconds() == 7 * 3600


def test_operator_times_are_in_the_configured_zone_with_its_offset() -> None:
    moment = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    assert local_time(moment, "Asia/Jakarta") == "2026-11-24T10:00+07:00"
    assert local_time(moment.replace(tzinfo=None), "Asia/Makassar") == "2026-11-24T11:00+08:00"  # stored as UTC
    assert local_time("2026-11-24T03:00:00+00:00", "Asia/Jakarta") == "2026-11-24T10:00+07:00"


def _demo_folder(tmp_path: Path) -> None:
    (tmp_path / "clearance-demo").mkdir()
    (tmp_path / "clearance-demo" / "clearance.db").write_bytes(b"")


def test_the_demo_folder_is_the_home_when_nothing_is_configured(tmp_path: Path, monkeypatch) -> None:
    _demo_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    for name in ("CLEARANCE_DATABASE_URL", "CLEARANCE_KEY_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings, home = resolve_settings()
    assert home == Path("clearance-demo")
    assert settings.database_url == "sqlite:///clearance-demo/clearance.db"
    assert settings.key_dir == Path("clearance-demo/keys")


@pytest.mark.parametrize("variable", ["CLEARANCE_DATABASE_URL", "CLEARANCE_KEY_DIR"])
def test_a_configured_store_wins_over_the_demo_folder(variable: str, tmp_path: Path, monkeypatch) -> None:
    _demo_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLEARANCE_DATABASE_URL", raising=False)
    monkeypatch.delenv("CLEARANCE_KEY_DIR", raising=False)
    monkeypatch.setenv(variable, "sqlite:///elsewhere.db" if variable.endswith("URL") else str(tmp_path / "keys"))
    settings, home = resolve_settings()
    assert home is None
    assert "clearance-demo" not in settings.database_url and "clearance-demo" not in str(settings.key_dir)


def test_without_a_demo_folder_the_defaults_stand(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLEARANCE_DATABASE_URL", raising=False)
    monkeypatch.delenv("CLEARANCE_KEY_DIR", raising=False)
    settings, home = resolve_settings()
    assert home is None and settings.database_url == "sqlite:///clearance.db"
