"""``clearance demo``: the service on its embedded default, playing a graduation period."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option("--students", default=300, show_default=True, help="How many students apply.")
@click.option("--out", "out_dir", default="clearance-demo", show_default=True, type=click.Path(path_type=Path))
@click.option("--seed", default=2026, show_default=True, help="Seed of the simulation.")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for the outcome.")
def demo(students: int, out_dir: Path, seed: int, timeout: float) -> None:
    """Start an embedded broker, run the service on SQLite and play a graduation period."""
    from clearance.demo.run import run_demo

    sys.exit(run_demo(students=students, out_dir=out_dir, seed=seed, timeout=timeout))


COMMANDS = [demo]
