"""A fresh store per store size: a new PostgreSQL database on the server the URL names, or a new SQLite file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from clearance.store.engine import normalise_url


@contextmanager
def fresh_store(base_url: str | None, workdir: Path, label: str, keep: bool = False) -> Iterator[str]:
    """Yield the URL of an empty database for one store size; drop it afterwards unless ``keep``.

    ``base_url`` None (or a SQLite URL) gives a SQLite file in ``workdir``. A PostgreSQL URL names the
    server and the maintenance database; the benchmark creates ``bench_<label>_<random>`` beside it.
    """
    if base_url is None or make_url(base_url).get_backend_name() == "sqlite":
        path = workdir / f"store-{label}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        yield f"sqlite:///{path}"
        if not keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    admin_url = normalise_url(base_url)
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
