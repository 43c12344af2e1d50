"""``clearance trust``: check a trust file (G11) before the service reads it."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from clearance.config.trust_file import TrustFileError, load_trust


@click.group()
def trust() -> None:
    """Producer trust: which topic may say what (CLEARANCE_TRUST_FILE)."""


@trust.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def trust_check(file: Path) -> None:
    """Validate FILE and print its rules as a table; exit 1 with the reason when it cannot be applied."""
    try:
        policy = load_trust(file)
    except TrustFileError as exc:
        raise click.ClickException(str(exc)) from None
    assert policy is not None
    table = Table(title=f"{file}: {len(policy.rules)} rules (topics without the prefix)")
    for column in ("topic", "sources", "types", "library ids"):
        table.add_column(column)
    for rule in policy.rules:
        table.add_row(rule.topic, ", ".join(rule.sources), ", ".join(rule.types), ", ".join(rule.library_ids) or "any")
    Console(width=200).print(table)


COMMANDS = [trust]
