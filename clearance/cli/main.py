"""The ``clearance`` command line: one group, its sub-commands in the modules beside this one.

The group is the command line's error boundary (:class:`clearance.cli.errors.BoundaryGroup`): an expected
failure of any sub-command is printed as one line with exit code 1, never as a traceback.
"""

from __future__ import annotations

import click

from clearance.cli import applications, certificates, contract, demo, dlq, keys, run, status, trust
from clearance.cli.context import CliContext
from clearance.cli.errors import BoundaryGroup
from connectors.cli import connect


@click.group(cls=BoundaryGroup)
@click.version_option(package_name="graduation-clearance")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Library clearance (bebas pustaka) for graduation applications, over Kafka."""
    ctx.ensure_object(CliContext)


main.add_command(connect)
for _module in (run, contract, keys, trust, demo, applications, certificates, dlq, status):
    for _command in _module.COMMANDS:
        main.add_command(_command)
