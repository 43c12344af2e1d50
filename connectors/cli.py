"""The ``connect`` command group: one command per connector (mounted by the service as ``clearance connect``)."""

from __future__ import annotations

import click

from connectors.folio.command import command as folio
from connectors.oaipmh.command import command as oaipmh
from connectors.slims.command import command as slims

connect = click.Group(
    "connect",
    help="Turn a library's or repository's own system into the service's inbound events (docs/contract.md#connectors).",
)
connect.add_command(slims)
connect.add_command(oaipmh)
connect.add_command(folio)
