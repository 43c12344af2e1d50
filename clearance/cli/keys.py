"""``clearance keys``: the signing keys (CLEARANCE_KEY_DIR)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click

from clearance.cli.context import current_settings
from clearance.signing.keys import KeyRing, KeyRingError
from clearance.signing.rotation import retire, rotate


@click.group()
def keys() -> None:
    """Signing keys (CLEARANCE_KEY_DIR)."""


@keys.command("jwks")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the JWK Set to FILE (replaced atomically, mode 0644) for CLEARANCE_JWKS_FILE.")  # fmt: skip
def keys_jwks(output: Path | None) -> None:
    """Print the public keys as a JWK Set; never makes a key (`clearance run` or `keys rotate` do).

    The file is all `clearance serve` needs of the keys: it holds no private key.
    """
    settings = current_settings()
    ring = KeyRing(settings.key_dir)
    try:
        ring.check_permissions()
        ring.signing_key(create=False)
    except KeyRingError as exc:
        # A key made here would take the id of a key elsewhere and call its certificates forged.
        raise click.ClickException(
            f"{exc}: `clearance run` creates the first key, `clearance keys rotate` a new one"
        ) from None
    text = json.dumps(ring.jwks(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    # Written whole beside the target and renamed over it: a verifier reloading it never reads half a file.
    fd, name = tempfile.mkstemp(prefix=".jwks-", dir=output.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(name, 0o644)
    os.replace(name, output)
    click.echo(str(output))


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
