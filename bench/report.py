"""The benchmark's output: results JSON, a PNG chart and a printed table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def summary(sizes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Cross-size figures and the issue's targets, measured (informational: nothing here fails a run)."""
    ordered = sorted(sizes.items(), key=lambda kv: int(kv[0]))
    small, large = ordered[0][1], ordered[-1][1]

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a and b else None

    projection_growth = ratio(large["projection"]["us_per_event"], small["projection"]["us_per_event"])
    apps_growth = ratio(
        small["applications_saturation"]["decisions_per_second"],
        large["applications_saturation"]["decisions_per_second"],
    )
    ratios = [s["projection"]["ratio_to_ceiling"] for _, s in ordered]
    certificates = [s["applications_saturation"]["certificates_per_second"] for _, s in ordered]
    p99 = [s["applications_fixed_rate"]["latency_ms"]["p99"] for _, s in ordered]
    peaks = [s["memory"]["service_peak_rss_mb"] for _, s in ordered]
    quarters = [s["projection"]["rss_mb_at_quarters"] for _, s in ordered]
    growth = [round(q[-1] - q[0], 1) for q in quarters if q and q[0] is not None and q[-1] is not None]
    pruned = all(s["pruning"]["short_retention"]["after"]["inbox"] == 0 for _, s in ordered)
    targets = [
        ("projection >= 50% of the raw kafka-python ceiling", min(ratios), min(ratios) >= 0.5),
        (">= 500 decisions with signed certificates per second", min(certificates), min(certificates) >= 500),
        ("p99 <= 250 ms at the fixed offered rate", max(p for p in p99 if p is not None) if any(p99) else None,
         all(p is not None and p <= 250 for p in p99)),
        (f"projection cost per event at {ordered[-1][0]} within 1.3x of {ordered[0][0]}", projection_growth,
         projection_growth is not None and projection_growth <= 1.3),
        (f"application cost per decision at {ordered[-1][0]} within 1.3x of {ordered[0][0]}", apps_growth,
         apps_growth is not None and apps_growth <= 1.3),
        ("memory flat: service RSS change from 1/4 to all of the projection (MB)", max(growth) if growth else None,
         bool(growth) and max(growth) < 50),
        ("store bounded: inbox empty after a prune at a short retention", pruned, pruned),
    ]  # fmt: skip
    return {
        "projection_cost_growth": projection_growth,
        "applications_cost_growth": apps_growth,
        "service_peak_rss_mb": peaks,
        "targets": [{"target": t, "measured": m, "met": bool(ok)} for t, m, ok in targets],
    }


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(results, indent=2, sort_keys=False, default=str) + "\n")


def chart(path: Path, sizes: dict[str, dict[str, Any]], title: str) -> None:
    """Throughput against the ceiling, and latency percentiles, per store size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{int(k):,} students" for k in sorted(sizes, key=int)]
    runs = [sizes[k] for k in sorted(sizes, key=int)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 6))
    width = 0.25
    xs = list(range(len(runs)))
    series = [
        ("raw kafka-python ceiling (events/s)", [r["ceiling"]["per_second"] for r in runs], "#9e9e9e"),
        ("circulation projection (events/s)", [r["projection"]["per_second"] for r in runs], "#1f77b4"),
        ("applications at saturation (decisions/s)",
         [r["applications_saturation"]["decisions_per_second"] for r in runs], "#2ca02c"),
    ]  # fmt: skip
    for i, (name, values, colour) in enumerate(series):
        bars = left.bar([x + (i - 1) * width for x in xs], values, width, label=name, color=colour)
        left.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=8)
    for x, r in zip(xs, runs, strict=True):
        ratio = r["projection"]["ratio_to_ceiling"]
        if ratio is not None:
            left.annotate(f"{ratio:.0%} of ceiling", (x, r["projection"]["per_second"]), textcoords="offset points",
                          xytext=(0, 14), ha="center", fontsize=8, color="#1f77b4")  # fmt: skip
    left.set_xticks(xs, labels)
    left.set_ylabel("per second")
    left.set_title("Throughput against the raw ceiling")
    left.set_ylim(0, max(max(v) for _, v, _ in series) * 1.15)
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)

    names = ("p50", "p95", "p99", "max")
    groups = []
    for label, r in zip(labels, runs, strict=True):
        groups.append(
            (f"{label}\n{r['applications_fixed_rate']['offered_per_second']:g}/s", r["applications_fixed_rate"])
        )
        groups.append((f"{label}\nsaturation", r["applications_saturation"]))
    gx = list(range(len(groups)))
    width = 0.2
    for i, name in enumerate(names):
        values = [g[1]["latency_ms"][name] or 0.0 for g in groups]
        right.bar([x + (i - 1.5) * width for x in gx], values, width, label=name)
    right.axhline(250, color="#d62728", linestyle="--", linewidth=1, label="p99 target (250 ms)")
    right.set_yscale("log")
    right.set_ylim(bottom=10)
    right.set_xticks(gx, [g[0] for g in groups], fontsize=8)
    right.set_ylabel("publish -> outcome consumed (ms, log)")
    right.set_title("Application latency")
    right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=5)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _pair(counts: dict[str, int]) -> str:
    return f"{_fmt(counts['outbox'])} / {_fmt(counts['inbox'])}"


def table(console: Console, results: dict[str, Any]) -> None:
    """The figures as a table, and the targets."""
    sizes = results["sizes"]
    t = Table(title="graduation-clearance benchmark" + (" (SMOKE: tiny N, figures mean nothing)"
                                                        if results["config"]["smoke"] else ""))  # fmt: skip
    t.add_column("figure")
    keys = sorted(sizes, key=int)
    for k in keys:
        t.add_column(f"{int(k):,} students", justify="right")
    rows: list[tuple[str, Any]] = [
        ("store rows pre-loaded", lambda r: _fmt(r["preload"]["total_rows"])),
        ("raw ceiling (events/s)", lambda r: _fmt(r["ceiling"]["per_second"])),
        ("projection (events/s)", lambda r: _fmt(r["projection"]["per_second"])),
        ("projection / ceiling", lambda r: _fmt(r["projection"]["ratio_to_ceiling"], 3)),
        ("projection cost (µs/event)", lambda r: _fmt(r["projection"]["us_per_event"], 1)),
        ("apps @ fixed rate: offered/s", lambda r: _fmt(r["applications_fixed_rate"]["offered_per_second"], 0)),
        ("  p50 / p95 / p99 / max (ms)", lambda r: " / ".join(
            _fmt(r["applications_fixed_rate"]["latency_ms"][p], 0) for p in ("p50", "p95", "p99", "max"))),
        ("apps @ saturation: decisions/s", lambda r: _fmt(r["applications_saturation"]["decisions_per_second"])),
        ("  certificates/s", lambda r: _fmt(r["applications_saturation"]["certificates_per_second"])),
        ("  p50 / p95 / p99 / max (ms)", lambda r: " / ".join(
            _fmt(r["applications_saturation"]["latency_ms"][p], 0) for p in ("p50", "p95", "p99", "max"))),
        ("unexpected outcomes", lambda r: _fmt(r["applications_fixed_rate"]["unexpected_outcomes"]
                                               + r["applications_saturation"]["unexpected_outcomes"])),
        ("service peak RSS (MB)", lambda r: _fmt(r["memory"]["service_peak_rss_mb"], 1)),
        ("RSS at projection quarters (MB)",
         lambda r: " / ".join(_fmt(x, 0) for x in r["projection"]["rss_mb_at_quarters"])),
        ("outbox / inbox rows before prune", lambda r: f"{_fmt(r['pruning']['before']['outbox'])} / "
                                                        f"{_fmt(r['pruning']['before']['inbox'])}"),
        ("  after prune, default retention", lambda r: _pair(r["pruning"]["default_retention"]["after"])),
        ("  after prune, short retention", lambda r: _pair(r["pruning"]["short_retention"]["after"])),
    ]  # fmt: skip
    for name, get in rows:
        t.add_row(name, *[get(sizes[k]) for k in keys])
    console.print(t)
    targets = Table(title="targets (measured here; informational)")
    targets.add_column("target")
    targets.add_column("measured", justify="right")
    targets.add_column("met")
    for entry in results["summary"]["targets"]:
        targets.add_row(entry["target"], _fmt(entry["measured"], 3), "yes" if entry["met"] else "NO")
    console.print(targets)
