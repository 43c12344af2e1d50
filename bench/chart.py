"""The benchmark's chart: each figure of the service beside its reference, with the ratio written on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _label_ratio(axis: Any, x: float, y: float, value: float | None, text: str, colour: str) -> None:
    if value is not None:
        axis.annotate(f"{value:.2f}x {text}", (x, y), textcoords="offset points", xytext=(0, 14), ha="center",
                      fontsize=7, color=colour)  # fmt: skip


def chart(path: Path, sizes: dict[str, dict[str, Any]], title: str) -> None:
    """Left: throughput beside the bare durable consumer's. Right: latency beside the bare relay's, per rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted(sizes, key=int)
    runs = [sizes[k] for k in keys]
    labels = [f"{int(k):,} students" for k in keys]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6.5))

    def durable(run: dict[str, Any], on: str) -> float:
        return (run["bare_durable"].get(on) or {}).get("per_second") or 0.0

    series = [
        ("bare durable consumer, circulation (events/s)", lambda r: durable(r, "circulation"), "#9e9e9e"),
        ("service: circulation projection (events/s)", lambda r: r["projection"]["per_second"], "#1f77b4"),
        ("bare durable consumer, applications (events/s)", lambda r: durable(r, "applications"), "#c7c7c7"),
        ("service: applications end to end (decisions/s)",
         lambda r: r["applications_saturation"]["decisions_per_second"], "#2ca02c"),
    ]  # fmt: skip
    width = 0.2
    xs = list(range(len(runs)))
    top = 1.0
    for i, (name, get, colour) in enumerate(series):
        values = [get(r) for r in runs]
        top = max(top, *values)
        bars = left.bar([x + (i - 1.5) * width for x in xs], values, width, label=name, color=colour)
        left.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=7)
    for x, r in zip(xs, runs, strict=True):
        _label_ratio(left, x - 0.5 * width, r["projection"]["per_second"],
                     r["ratios"]["projection_to_bare_durable"], "of bare", "#1f77b4")  # fmt: skip
        _label_ratio(left, x + 1.5 * width, r["applications_saturation"]["decisions_per_second"],
                     r["ratios"]["end_to_end_to_bare_durable"], "of bare", "#2ca02c")  # fmt: skip
    left.axhline(0, color="black", linewidth=0.5)
    left.set_xticks(xs, labels)
    left.set_ylabel("per second")
    left.set_ylim(0, top * 1.2)
    left.set_title("Throughput beside the bare durable consumer (target: >= 0.5x)")
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)

    groups = [(f"{label}\n{rate}/s", run, rate) for label, run in zip(labels, runs, strict=True)
              for rate in run["applications_fixed_rates"]]  # fmt: skip
    gx = list(range(len(groups)))
    bars_of = [
        ("bare relay p50", lambda g: g[1]["bare_relay"].get(g[2], {}).get("latency_ms", {}).get("p50"), "#c7c7c7"),
        ("bare relay p99", lambda g: g[1]["bare_relay"].get(g[2], {}).get("latency_ms", {}).get("p99"), "#7f7f7f"),
        ("service p50", lambda g: g[1]["applications_fixed_rates"][g[2]]["latency_ms"]["p50"], "#aec7e8"),
        ("service p99", lambda g: g[1]["applications_fixed_rates"][g[2]]["latency_ms"]["p99"], "#1f77b4"),
    ]
    highest = 1.0
    for i, (name, get, colour) in enumerate(bars_of):
        values = [get(g) or 0.0 for g in groups]
        highest = max(highest, *values)
        right.bar([x + (i - 1.5) * width for x in gx], values, width, label=name, color=colour)
    for x, g in zip(gx, groups, strict=True):
        service_p99 = g[1]["applications_fixed_rates"][g[2]]["latency_ms"]["p99"] or 0.0
        _label_ratio(right, x + 1.5 * width, service_p99, g[1]["ratios"]["p99_to_bare_relay"].get(g[2]),
                     "relay p99", "#1f77b4")  # fmt: skip
    right.set_yscale("log")
    right.set_ylim(1, highest * 3)  # room above the bars for the ratios
    right.set_xticks(gx, [g[0] for g in groups], fontsize=8)
    right.set_ylabel("publish -> output consumed (ms, log)")
    right.set_title("Latency at a fixed offered rate beside the bare relay (target: p99 <= 1.2x)")
    right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
