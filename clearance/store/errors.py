"""Telling an outage of the database from a fault of the data."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError


def is_transient(exc: BaseException) -> bool:
    """Whether the error is an outage to wait out rather than a property of the data."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated
