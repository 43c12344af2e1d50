"""What every sub-command shares, passed through click's context: the settings, read once."""

from __future__ import annotations

import click

from clearance.observability.logging import configure_logging
from clearance.settings import Settings


class CliContext:
    """Settings from the environment, read and logging configured on first use."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The settings, with logging configured by them."""
        if self._settings is None:
            self._settings = Settings()
            configure_logging(self._settings.log_format, self._settings.log_level, secrets=self._settings.secrets())
        return self._settings


def current_settings() -> Settings:
    """The settings of the command being run, from click's context."""
    return click.get_current_context().ensure_object(CliContext).settings
