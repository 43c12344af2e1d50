"""``clearance keys``: the signing keys (CLEARANCE_KEY_DIR)."""

from __future__ import annotations

import json

import click

from clearance.cli.context import current_settings
from clearance.signing.keys import KeyRing, KeyRingError
from clearance.signing.rotation import retire, rotate


@click.group()
def keys() -> None:
    """Signing keys (CLEARANCE_KEY_DIR)."""


@keys.command("jwks")
def keys_jwks() -> None:
    """Print the public keys as a JWK Set (a key is generated if there is none)."""
    settings = current_settings()
    ring = KeyRing(settings.key_dir)
    ring.signing_key(create=True)
    click.echo(json.dumps(ring.jwks(), indent=2))


@keys.command("rotate")
@click.option("--key-id", help="Id of the new key (default: <year>-<n>).")
def keys_rotate(key_id: str | None) -> None:
    """Make a new key the signing key; earlier keys stay in the JWK Set."""
    ring = KeyRing(current_settings().key_dir)
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
    ring = KeyRing(current_settings().key_dir)
    try:
        retire(ring, key_id)
    except KeyRingError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"retired {key_id}; JWK Set: {', '.join(ring.key_ids())}")


COMMANDS = [keys]
