"""Sub-commands of ``clearance`` that live in their own modules.

Every module here may define ``COMMANDS``: a list of click commands or groups
that :func:`register` adds to the main group.
"""

from __future__ import annotations

import importlib
import pkgutil

import click


def register(group: click.Group) -> None:
    """Add the ``COMMANDS`` of every module of this package to ``group``."""
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for command in getattr(module, "COMMANDS", []):
            group.add_command(command)
