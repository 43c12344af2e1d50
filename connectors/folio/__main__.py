"""``python -m connectors.folio ...``: the folio command on its own, until ``connectors.cli`` mounts it."""

from connectors.folio.command import command

command(prog_name="python -m connectors.folio")
