"""The ``clearance`` command line."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import click
import structlog

from clearance.commands import register as register_commands
from clearance.logging import configure_logging
from clearance.settings import Settings
from clearance.signing import KeyRingError


def load_settings() -> Settings:
    """Settings from the environment, with logging configured by them."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level, secrets=settings.secrets())
    return settings


@click.group()
@click.version_option(package_name="graduation-clearance")
def main() -> None:
    """Library clearance (bebas pustaka) for graduation applications, over Kafka."""


@main.command()
@click.option("--migrate/--no-migrate", default=True, show_default=True, help="Run database migrations first.")
def run(migrate: bool) -> None:
    """Run every consumer and the outbox relay until SIGTERM or SIGINT."""
    from clearance.service import Service

    settings = load_settings()
    try:
        service = Service(settings)
    except KeyRingError as exc:
        raise click.ClickException(str(exc)) from None
    service.prepare(migrate=migrate)

    def _stop(signum: int, _frame: object) -> None:
        structlog.get_logger("clearance.service").info("signal_received", signal=signal.Signals(signum).name)
        service.stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.start()
    service.wait()
    service.stop()
    service.close()


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema of CLEARANCE_DATABASE_URL."""
    from clearance.store.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url, revision)
    click.echo(f"database at revision {revision}")


@main.group()
def schemas() -> None:
    """The event contract."""


@schemas.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schemas_export(directory: Path) -> None:
    """Write one JSON Schema file per event type into DIRECTORY."""
    from schemas.export import export_schemas

    for path in export_schemas(directory):
        click.echo(str(path))


@schemas.command("asyncapi")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not to stdout.")
def schemas_asyncapi(output: Path | None) -> None:
    """Write the AsyncAPI 3.0 document of every topic, operation and message (JSON)."""
    from schemas.asyncapi import asyncapi_document, render

    text = render(asyncapi_document())
    if output is None:
        click.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        click.echo(str(output))


@main.group()
def keys() -> None:
    """Signing keys (CLEARANCE_KEY_DIR)."""


@keys.command("jwks")
def keys_jwks() -> None:
    """Print the public keys as a JWK Set (a key is generated if there is none)."""
    from clearance.signing import KeyRing

    settings = load_settings()
    ring = KeyRing(settings.key_dir)
    ring.signing_key(create=True)
    click.echo(json.dumps(ring.jwks(), indent=2))


@keys.command("rotate")
@click.option("--key-id", help="Id of the new key (default: <year>-<n>).")
def keys_rotate(key_id: str | None) -> None:
    """Make a new key the signing key; earlier keys stay in the JWK Set."""
    from clearance.keyrotation import rotate
    from clearance.signing import KeyRing

    ring = KeyRing(load_settings().key_dir)
    previous = ring.current_id()
    try:
        key = rotate(ring, key_id)
    except KeyRingError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"signing key is now {key.key_id} (was {previous or 'none'}); JWK Set: {', '.join(ring.key_ids())}")


@keys.command("retire")
@click.argument("key_id")
def keys_retire(key_id: str) -> None:
    """Withdraw KEY_ID from the JWK Set: certificates it signed no longer verify."""
    from clearance.keyrotation import retire
    from clearance.signing import KeyRing

    ring = KeyRing(load_settings().key_dir)
    try:
        retire(ring, key_id)
    except KeyRingError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"retired {key_id}; JWK Set: {', '.join(ring.key_ids())}")


@main.command()
@click.option("--students", default=300, show_default=True, help="How many students apply.")
@click.option("--out", "out_dir", default="clearance-demo", show_default=True, type=click.Path(path_type=Path))
@click.option("--seed", default=2026, show_default=True, help="Seed of the simulation.")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for the outcome.")
def demo(students: int, out_dir: Path, seed: int, timeout: float) -> None:
    """Start an embedded broker, run the service on SQLite and play a graduation period."""
    from clearance.demo import run_demo

    sys.exit(run_demo(students=students, out_dir=out_dir, seed=seed, timeout=timeout))


register_commands(main)

if __name__ == "__main__":  # pragma: no cover
    main()
