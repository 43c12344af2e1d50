"""The runtime every connector shares (SPEC §8, issue 13).

The names of the connector interface, importable from here:

- :class:`Outgoing`, :func:`event_id`, :class:`PublishError`, :class:`Publisher` (``connectors.publisher``);
- :class:`StateStore` (``connectors.state``);
- :class:`PassResult`, :class:`Connector`, :func:`run` (``connectors.runner``);
- :func:`common_options` and :func:`launch` (here): the options every ``connect`` command
  takes, and the glue from them to a running connector.

A command looks like::

    @click.command("slims")
    @click.option("--dsn", required=True)
    @common_options
    def command(dsn: str, common: CommonOptions) -> None:
        launch(common, name="slims", family=Topic.CIRCULATION, make=lambda: SlimsConnector(...))
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import click

from clearance.observability.logging import configure_logging
from clearance.settings import Settings
from connectors.publisher import Outgoing, Publisher, PublishError, event_id
from connectors.runner import Connector, PassResult, run
from connectors.state import StateStore
from schemas.registry import Topic

__all__ = [
    "CommonOptions",
    "Connector",
    "Outgoing",
    "PassResult",
    "PublishError",
    "Publisher",
    "StateStore",
    "common_options",
    "event_id",
    "launch",
    "run",
]

DEFAULT_METRICS_PORT = 9465


@dataclass(frozen=True, slots=True)
class CommonOptions:
    """The options every connector command takes."""

    topic: str | None
    state_url: str | None
    once: bool
    interval: float
    metrics_host: str
    metrics_port: int

    def deployed_topic(self, settings: Settings, family: Topic | str) -> str:
        """``CLEARANCE_TOPIC_PREFIX`` + (``--topic`` or the family's shared topic)."""
        return f"{settings.topic_prefix}{self.topic or Topic(family).value}"

    def state_url_for(self, name: str) -> str:
        """``--state-url``, by default ``sqlite:///connector-<name>.db`` in the working directory."""
        return self.state_url or f"sqlite:///connector-{name}.db"


_COMMON = ("topic", "state_url", "once", "interval", "metrics_host", "metrics_port")


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --topic, --state-url, --once, --interval, --metrics-host and --metrics-port to a click
    command; the function receives them as one ``common: CommonOptions`` argument."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        common = CommonOptions(**{name: kwargs.pop(name) for name in _COMMON})
        return func(*args, common=common, **kwargs)

    options = [
        click.option(
            "--topic",
            default=None,
            help="Topic to publish to, without CLEARANCE_TOPIC_PREFIX (default: the family's shared inbound "
            "topic; a per-producer topic is `<topic>.<producer>`).",
        ),
        click.option(
            "--state-url",
            default=None,
            help="SQLAlchemy URL of the connector's own state database (default sqlite:///connector-<name>.db).",
        ),
        click.option("--once", is_flag=True, help="Run one pass, then exit (0, or 1 if the pass failed)."),
        click.option(
            "--interval",
            type=click.FloatRange(min=0.0),
            default=60.0,
            show_default=True,
            help="Seconds between passes when not --once.",
        ),
        click.option("--metrics-host", default="0.0.0.0", show_default=True, help="Address of /metrics."),
        click.option(
            "--metrics-port",
            type=click.IntRange(0, 65535),
            default=DEFAULT_METRICS_PORT,
            show_default=True,
            help="Port of /metrics, /livez and /readyz; 0 turns them off.",
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def launch(
    common: CommonOptions,
    *,
    name: str,
    family: Topic | str,
    make: Callable[[], Connector],
    secrets: list[str] | None = None,
) -> NoReturn:
    """Configure logging from ``Settings()``, build the publisher, the state store and the
    connector (``make``), run it, close everything, and exit with :func:`run`'s code.
    ``secrets`` (a DSN's password, a token) are never written to the log."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level, [*settings.secrets(), *(secrets or [])])
    publisher = Publisher(settings, common.deployed_topic(settings, family))
    state = StateStore(common.state_url_for(name), name)
    connector = make()
    try:
        code = run(
            connector,
            publisher=publisher,
            state=state,
            once=common.once,
            interval=common.interval,
            metrics_host=common.metrics_host,
            metrics_port=common.metrics_port,
        )
    finally:
        connector.close()
        publisher.close()
        state.close()
    sys.exit(code)
