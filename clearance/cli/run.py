"""``clearance run`` and ``clearance db``: the service itself and its database schema."""

from __future__ import annotations

import signal

import click
import structlog

from clearance.cli.context import current_settings
from clearance.kafka_errors import describe_kafka_failure, tls_handshake_failure
from clearance.signing.keys import KeyRingError
from clearance.store.engine import StoreInUse


@click.command()
@click.option("--migrate/--no-migrate", default=True, show_default=True, help="Run database migrations first.")
def run(migrate: bool) -> None:
    """Run every consumer and the outbox relay until SIGTERM or SIGINT."""
    from clearance.bootstrap import create_service

    settings = current_settings()
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        # kafka-python retries a failed TLS handshake for ever and drops its cause: ask once, plainly.
        for server in settings.kafka_bootstrap_servers.split(","):
            failure = tls_handshake_failure(server, settings.kafka_ssl_cafile)
            if failure is not None:
                raise click.ClickException(describe_kafka_failure(failure, server.strip()) or str(failure))
    try:
        service = create_service(settings)
    except KeyRingError as exc:
        raise click.ClickException(str(exc)) from None
    service.prepare(migrate=migrate)

    def _stop(signum: int, _frame: object) -> None:
        structlog.get_logger("clearance.service").info("signal_received", signal=signal.Signals(signum).name)
        service.stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        service.start()
    except StoreInUse as exc:
        service.close()
        raise click.ClickException(str(exc)) from None
    service.wait()
    service.stop()
    service.close()
    if service.crashed:
        raise click.ClickException("a worker of the service crashed (see the log); exiting so it is restarted")


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema of CLEARANCE_DATABASE_URL."""
    from clearance.store.migrate import upgrade

    settings = current_settings()
    upgrade(settings.database_url, revision)
    click.echo(f"database at revision {revision}")


COMMANDS = [run, db]
