"""The ``clearance`` command line: ``main`` in :mod:`clearance.cli.main`, one module per group of sub-commands."""
