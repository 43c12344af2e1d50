"""Structured logging: JSON lines in production, readable console in development."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_SECRET_KEYS = ("password", "secret", "token", "sasl_plain_password")
_REDACTED = "***"


class Redactor:
    """A structlog processor that blanks secret-looking keys and any configured secret value."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = [s for s in secrets if len(s) >= 4]

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, _REDACTED)
            return value
        if isinstance(value, dict):
            return {k: _REDACTED if _is_secret_key(k) else self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._clean(v) for v in value)
        return value

    def __call__(self, _logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        return {k: _REDACTED if _is_secret_key(k) else self._clean(v) for k, v in event_dict.items()}


def _is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and any(marker in key.lower() for marker in _SECRET_KEYS)


def configure_logging(fmt: str = "json", level: str = "info", secrets: list[str] | None = None) -> None:
    """Route structlog (and the standard library's loggers) to stderr in ``fmt``; never print ``secrets``."""
    numeric = getattr(logging, level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(
            # Plain tracebacks: rich's would print every frame's locals, the settings' secrets among them.
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    redact = Redactor(secrets or [])
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if numeric < logging.WARNING else numeric)
    # kafka-python is chatty at INFO about every connection; its warnings still show.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    # uvicorn says where it listens at INFO; that line is worth showing whatever the root level.
    if numeric <= logging.INFO:
        logging.getLogger("uvicorn.error").setLevel(logging.INFO)


def quiet_libraries() -> None:
    """Silence kafka-python's own log lines: an operator command reports a broker problem itself, in one line."""
    logging.getLogger("kafka").setLevel(logging.CRITICAL + 1)
