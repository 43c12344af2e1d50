"""The ``connect`` command group: one command per connector (mounted by the service as ``clearance connect``)."""

from __future__ import annotations

import click

from connectors.slims.command import command as slims

connect = click.Group(
    "connect",
    help="Turn a library's or repository's own system into the service's inbound events (SPEC §8).",
)
connect.add_command(slims)
