"""``python -m connectors <connector> ...``: the ``connect`` group without the service's CLI."""

from connectors.cli import connect

connect(prog_name="python -m connectors")
