"""What a benchmark run is asked to do, and where it ran: the configuration and environment in results.json."""

from __future__ import annotations

import os
import platform
import resource
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url


@dataclass
class BenchConfig:
    """What to run; ``smoke_mode()`` gives the tiny CI configuration."""

    out: Path
    events: int = 100_000
    sizes: tuple[int, ...] = (10_000, 1_000_000)
    rates: tuple[float, ...] = (50.0, 200.0)
    rate_seconds: float = 30.0
    saturation: int = 3_000
    partitions: int = 6
    batch_max_records: int = 500
    database_url: str | None = None
    bootstrap: str | None = None
    profile: bool = False
    keep: bool = False
    prune_retention_seconds: float = 1.0
    timeout: float = 900.0
    seed: int = 2026
    smoke: bool = False

    def smoke_mode(self) -> BenchConfig:
        """Tiny figures: proves the run works end to end and writes well-formed output; times mean nothing.

        The offered rates stay the issue's (50 and 200 applications/s), for a fraction of a second each.
        """
        self.smoke = True
        self.events, self.sizes, self.rate_seconds, self.saturation = 300, (200, 400), 1.0, 40
        self.partitions, self.timeout = 3, 180.0
        return self


def redact(url: str) -> str:
    """``url`` without its password."""
    return make_url(url).render_as_string(hide_password=True)


def environment(cfg: BenchConfig, bootstrap: str, embedded: bool) -> dict[str, Any]:
    """Where the figures were taken."""
    load = os.getloadavg()
    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in load],
        "broker": "embedded Tansu" if embedded else bootstrap,
        "database": "sqlite (files in the output folder)" if not cfg.database_url
        or cfg.database_url.startswith("sqlite") else redact(cfg.database_url),
    }  # fmt: skip


def bench_peak_rss_mb() -> float:
    """The benchmark process's own peak RSS (it holds the generated records)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def config_json(cfg: BenchConfig) -> dict[str, Any]:
    """The configuration as results.json records it (the database URL without its password)."""
    values = asdict(cfg)
    values["out"] = str(cfg.out)
    values["database_url"] = redact(cfg.database_url) if cfg.database_url else None
    return values
