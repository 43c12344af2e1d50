"""The real services the integration tests need, found in the order DEVELOPERS.md sets.

Kafka: ``KAFKA_BOOTSTRAP_SERVERS`` if set; else a testcontainers Kafka if a
Docker engine answers; else the embedded Tansu broker. PostgreSQL:
``CLEARANCE_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
A service that cannot be reached fails the test under ``CI=true`` and skips
it, loudly, elsewhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get("CLEARANCE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def unavailable(what: str) -> None:
    """Fail under CI, skip elsewhere, saying which service is missing and how to get it."""
    message = f"REAL SERVICE MISSING: {what}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _docker_answers() -> bool:
    if not (os.environ.get("DOCKER_HOST") or os.path.exists("/var/run/docker.sock")):
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextmanager
def kafka_broker() -> Iterator[str]:
    """Yield the bootstrap servers of a real Kafka-compatible broker."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as container:
            yield container.get_bootstrap_server()
        return
    from clearance.demo.broker import BrokerError, EmbeddedBroker

    try:
        broker = EmbeddedBroker().start()
    except BrokerError as exc:
        unavailable(f"no Kafka: KAFKA_BOOTSTRAP_SERVERS unset, no Docker engine, Tansu failed: {exc}")
        raise
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


def _admin_url(database: str = "") -> str:
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg")
    if database:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        engine = create_engine(_admin_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return str(exc).splitlines()[0]


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database for one test (or one service) and drop it afterwards."""
    problem = postgres_reachable()
    if problem is not None:
        unavailable(
            f"PostgreSQL at {POSTGRES_ADMIN_URL} ({problem}); start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
        )
    name = f"clearance_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _admin_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_admin_engine():
    """An autocommit engine on the maintenance database, for outage tests."""
    return create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
