"""Security basics: SASL/TLS settings reach the Kafka clients, secrets never reach the logs, keys stay private."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from services import fresh_postgres_database

from clearance.observability.logging import Redactor
from clearance.settings import Settings
from clearance.signing.keys import KeyRing

SASL_SECRET = "s3cr3t-sasl-Pa55"
DB_SECRET = "hunter2-db-Pa55"


def test_plaintext_is_the_default_and_sends_no_credentials() -> None:
    options = Settings(kafka_sasl_password=SASL_SECRET).kafka_client_options()
    assert options["security_protocol"] == "PLAINTEXT"
    assert "sasl_plain_password" not in options


def test_sasl_over_tls_passes_mechanism_credentials_and_ca_file(tmp_path: Path) -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="clearance",
        kafka_sasl_password=SASL_SECRET, kafka_ssl_cafile=tmp_path / "ca.pem",
    )  # fmt: skip
    options = settings.kafka_client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == ("SCRAM-SHA-512", "clearance")
    assert options["sasl_plain_password"] == SASL_SECRET
    assert options["ssl_cafile"] == str(tmp_path / "ca.pem")


def test_the_password_is_not_shown_in_the_settings_representation() -> None:
    assert SASL_SECRET not in repr(Settings(kafka_sasl_password=SASL_SECRET))


def test_the_redactor_blanks_secret_keys_and_configured_secret_values() -> None:
    redact = Redactor([SASL_SECRET])
    event = redact(None, "info", {"event": f"connect with {SASL_SECRET}", "sasl_plain_password": "x",
                                  "options": {"db_password": "y", "host": "h"}})  # fmt: skip
    assert event == {"event": "connect with ***", "sasl_plain_password": "***",
                     "options": {"db_password": "***", "host": "h"}}  # fmt: skip


def _run(env: dict[str, str], cwd: Path, seconds: float) -> tuple[int, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "clearance.cli", "run"], env=env, cwd=cwd,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=40)
    return proc.returncode, output.decode("utf-8", "replace")


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_no_secret_appears_in_anything_the_service_prints(kafka_bootstrap: str, tmp_path: Path, protocol: str) -> None:
    """With the SASL password and a database password configured, through start, work and failure."""
    with fresh_postgres_database() as url:
        with_password = url.replace("postgres@", f"postgres:{DB_SECRET}@")
        env = {
            **os.environ,
            "CLEARANCE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CLEARANCE_DATABASE_URL": with_password,
            "CLEARANCE_KAFKA_SECURITY_PROTOCOL": protocol,
            "CLEARANCE_KAFKA_SASL_USERNAME": "clearance",
            "CLEARANCE_KAFKA_SASL_PASSWORD": SASL_SECRET,
            "CLEARANCE_TOPIC_PREFIX": f"sec{time.monotonic_ns()}.",
            "CLEARANCE_KEY_DIR": str(tmp_path / "keys"),
            "CLEARANCE_LOG_LEVEL": "debug",
            "CLEARANCE_RETRY_MAX_SECONDS": "1",
        }
        _, output = _run(env, tmp_path, seconds=8)
    assert output, "the service printed nothing to check"
    assert SASL_SECRET not in output
    assert DB_SECRET not in output


def test_the_service_refuses_to_start_with_a_signing_key_others_can_read(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    KeyRing(keys).signing_key()
    for pem in keys.glob("*.pem"):
        pem.chmod(0o644)
    env = {**os.environ, "CLEARANCE_KEY_DIR": str(keys), "CLEARANCE_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
           "CLEARANCE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}  # fmt: skip
    code, output = _run(env, tmp_path, seconds=30)
    assert code != 0
    assert "readable by others" in output and "chmod 600" in output
    assert "Traceback" not in output
