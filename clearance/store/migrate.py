"""Schema migrations with Alembic, driven from code (``clearance db upgrade``)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from clearance.store.engine import make_engine, normalise_url


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the database at ``url``."""
    config = Config()
    config.set_main_option("script_location", "clearance.store:migrations")
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (the latest by default)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Several instances may start at once; one migrates, the others wait.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7426017)")
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
