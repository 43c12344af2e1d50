"""``python -m bench``: run the benchmark and write results.json, chart.png and a table."""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console

from bench import report
from bench.chart import chart
from bench.config import BenchConfig, bench_peak_rss_mb, config_json, environment
from bench.run import SizeRun
from bench.summary import summary
from clearance.demo.broker import EmbeddedBroker
from clearance.observability.logging import configure_logging


def _sizes(value: str) -> tuple[int, ...]:
    sizes = tuple(sorted({int(v.replace("_", "")) for v in value.split(",") if v.strip()}))
    if not sizes or min(sizes) < 2:
        raise click.BadParameter("give store sizes as a comma-separated list of integers >= 2, e.g. 10000,1000000")
    return sizes


def _rates(value: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        rates = ()
    if not rates or min(rates) <= 0:
        raise click.BadParameter("give offered rates as a comma-separated list of positive numbers, e.g. 50,200")
    return rates


@click.command()
@click.option("--events", "-n", default=100_000, show_default=True, help="Circulation events to project (N).")
@click.option("--sizes", default="10000,1000000", show_default=True, help="Store sizes in students, comma-separated.")
@click.option(
    "--rates",
    default="50,200",
    show_default=True,
    help="Offered applications per second, one fixed-rate phase each (the service and the bare relay).",
)
@click.option("--rate-seconds", default=30.0, show_default=True, help="How long each fixed-rate phase offers load.")
@click.option("--saturation", default=3000, show_default=True, help="Applications published at once (saturation).")
@click.option("--partitions", default=6, show_default=True, help="Partitions of every topic the run creates.")
@click.option("--batch", "batch_max_records", default=500, show_default=True, help="CLEARANCE_BATCH_MAX_RECORDS.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder [default: bench-results/<UTC time>].")  # fmt: skip
@click.option("--database-url", default=None, envvar="CLEARANCE_DATABASE_URL",
              help="PostgreSQL server (a fresh database per store size is made on it) or SQLite; "
                   "[default: $CLEARANCE_DATABASE_URL, else SQLite files in the output folder].")  # fmt: skip
@click.option(
    "--bootstrap",
    default=None,
    help="Kafka bootstrap servers [default: $KAFKA_BOOTSTRAP_SERVERS, else an embedded Tansu broker].",
)
@click.option("--profile/--no-profile", default=False, show_default=True, help="Sample the service with py-spy.")
@click.option("--prune-retention-seconds", default=1.0, show_default=True, help="The short retention pruned with.")
@click.option("--keep", is_flag=True, help="Keep the databases the run made.")
@click.option("--timeout", default=900.0, show_default=True, help="Seconds to wait for one phase to finish.")
@click.option("--smoke", is_flag=True, help="Tiny N for CI: checks the run and its output, times mean nothing.")
def main(events: int, sizes: str, rates: str, rate_seconds: float, saturation: int, partitions: int,
         batch_max_records: int, out_dir: Path | None, database_url: str | None, bootstrap: str | None,
         profile: bool, prune_retention_seconds: float, keep: bool, timeout: float, smoke: bool) -> None:  # fmt: skip
    """Measure the service beside its references (a bare durable consumer, a bare relay), at each store size."""
    configure_logging("console", "warning")
    out = (out_dir or Path("bench-results") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cfg = BenchConfig(
        out=out, events=events, sizes=_sizes(sizes), rates=_rates(rates), rate_seconds=rate_seconds,
        saturation=saturation, partitions=partitions, batch_max_records=batch_max_records, database_url=database_url,
        bootstrap=bootstrap, profile=profile, keep=keep, prune_retention_seconds=prune_retention_seconds,
        timeout=timeout,
    )  # fmt: skip
    if smoke:
        cfg.smoke_mode()
    # A redirected run (a log, CI) still gets a table wide enough to keep each figure on one line.
    console = Console(width=None if sys.stdout.isatty() else 132)
    echo = click.echo
    with ExitStack() as stack:
        servers = cfg.bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        embedded = servers is None
        if embedded:
            echo("Starting the embedded Kafka-compatible broker (Tansu) ...")
            broker = stack.enter_context(EmbeddedBroker())
            servers = broker.bootstrap_servers
        assert servers is not None
        results: dict = {"config": config_json(cfg), "environment": environment(cfg, servers, embedded), "sizes": {}}
        for size in cfg.sizes:
            results["sizes"][str(size)] = SizeRun(cfg, size, servers, echo).run()
    results["bench_process_peak_rss_mb"] = bench_peak_rss_mb()
    results["summary"] = summary(results["sizes"])
    report.write_json(out / "results.json", results)
    where = results["environment"]
    title = (f"{where['database']}, {where['broker']}, N={cfg.events:,}, {where['cpus']} CPUs, "
             f"load average {where['load_average_at_start'][0]} at the start")  # fmt: skip
    if cfg.smoke:
        title += " - SMOKE (figures mean nothing)"
    chart(out / "chart.png", results["sizes"], title)
    report.table(console, results)
    echo(f"Results: {out / 'results.json'}\nChart:   {out / 'chart.png'}")


if __name__ == "__main__":
    sys.exit(main())
