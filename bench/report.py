"""The benchmark's output: results JSON and a printed table, every figure beside its reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(results, indent=2, sort_keys=False, default=str) + "\n")


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _pair(counts: dict[str, int]) -> str:
    return f"{_fmt(counts['outbox'])} / {_fmt(counts['inbox'])}"


def table(console: Console, results: dict[str, Any]) -> None:
    """The figures as a table, and the targets."""
    sizes = results["sizes"]
    where = results["environment"]
    t = Table(title=f"graduation-clearance benchmark on {where['database']}, {where['broker']}, load average "
                    f"{where['load_average_at_start'][0]} at the start"
                    + (" (SMOKE: tiny N, figures mean nothing)" if results["config"]["smoke"] else ""))  # fmt: skip
    t.add_column("figure")
    keys = sorted(sizes, key=int)
    for k in keys:
        t.add_column(f"{int(k):,} students", justify="right")
    rates = list(sizes[keys[0]]["applications_fixed_rates"])

    def ms(phase: dict[str, Any]) -> str:
        return " / ".join(_fmt(phase["latency_ms"][p], 0) for p in ("p50", "p95", "p99", "max"))

    def durable(r: dict[str, Any], on: str) -> str:
        return _fmt((r["bare_durable"].get(on) or {}).get("per_second"))

    rows: list[tuple[str, Any]] = [
        ("store rows pre-loaded", lambda r: _fmt(r["preload"]["total_rows"])),
        ("raw ceiling, read only (events/s)", lambda r: _fmt(r["ceiling"]["per_second"])),
        ("bare durable consumer (events/s)", lambda r: durable(r, "circulation")),
        ("projection (events/s)", lambda r: _fmt(r["projection"]["per_second"])),
        ("  projection / bare durable", lambda r: _fmt(r["ratios"]["projection_to_bare_durable"], 3)),
        ("  projection / raw ceiling", lambda r: _fmt(r["projection"]["ratio_to_ceiling"], 3)),
        ("projection cost (µs/event)", lambda r: _fmt(r["projection"]["us_per_event"], 1)),
        ("bare durable on the burst (events/s)", lambda r: durable(r, "applications")),
        ("apps @ saturation: decisions/s", lambda r: _fmt(r["applications_saturation"]["decisions_per_second"])),
        ("  end to end / bare durable", lambda r: _fmt(r["ratios"]["end_to_end_to_bare_durable"], 3)),
        ("  certificates/s", lambda r: _fmt(r["applications_saturation"]["certificates_per_second"])),
        ("  p50 / p95 / p99 / max (ms)", lambda r: ms(r["applications_saturation"])),
    ]  # fmt: skip
    for rate in rates:
        rows += [
            (f"bare relay @ {rate}/s: p50/p95/p99/max (ms)", lambda r, k=rate: ms(r["bare_relay"][k])),
            (f"apps @ {rate}/s: p50/p95/p99/max (ms)", lambda r, k=rate: ms(r["applications_fixed_rates"][k])),
            ("  p99 / bare relay p99", lambda r, k=rate: _fmt(r["ratios"]["p99_to_bare_relay"][k], 3)),
        ]  # fmt: skip
    rows += [
        ("unexpected outcomes", lambda r: _fmt(sum(p["unexpected_outcomes"] for p in
                                                   [*r["applications_fixed_rates"].values(),
                                                    r["applications_saturation"]]))),
        ("service peak RSS (MB)", lambda r: _fmt(r["memory"]["service_peak_rss_mb"], 1)),
        ("RSS at projection quarters (MB)",
         lambda r: " / ".join(_fmt(x, 0) for x in r["projection"]["rss_mb_at_quarters"])),
        ("outbox / inbox rows before prune", lambda r: _pair(r["pruning"]["before"])),
        ("  after prune, default retention", lambda r: _pair(r["pruning"]["default_retention"]["after"])),
        ("  after prune, short retention", lambda r: _pair(r["pruning"]["short_retention"]["after"])),
    ]  # fmt: skip
    for name, get in rows:
        t.add_row(name, *[get(sizes[k]) for k in keys])
    console.print(t)
    targets = Table(title="targets: the worst ratio over the store sizes, measured in this run (informational)")
    targets.add_column("target")
    targets.add_column("measured", justify="right")
    targets.add_column("met")
    for entry in results["summary"]["targets"]:
        targets.add_row(entry["target"], _fmt(entry["measured"], 3), "yes" if entry["met"] else "NO")
    console.print(targets)
