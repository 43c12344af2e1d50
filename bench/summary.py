"""The ratios of the service to its references, and the issue's targets, from a run's figures (no I/O).

Every throughput ratio divides a figure of the service by the bare durable consumer's on the same
records in the same run; every latency ratio divides the service's p99 by the bare relay's at the
same offered rate. Nothing here fails a run: the targets are reported, measured and met or not.
"""

from __future__ import annotations

from typing import Any

PROJECTION_RATIO_TARGET = 0.5
END_TO_END_RATIO_TARGET = 0.5
P99_RATIO_TARGET = 1.2
COST_GROWTH_TARGET = 1.3
FLAT_MEMORY_MB = 50.0


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b`` to three places; None when either is missing or ``b`` is zero."""
    return round(a / b, 3) if a is not None and b else None


def size_ratios(run: dict[str, Any]) -> dict[str, Any]:
    """One store size's ratios of the service to its references (None where a figure is missing)."""
    durable = run["bare_durable"]
    on_applications = durable.get("applications") or {}
    p99: dict[str, float | None] = {}
    p50: dict[str, float | None] = {}
    for rate, phase in run["applications_fixed_rates"].items():
        relay = run["bare_relay"].get(rate, {}).get("latency_ms", {})
        p99[rate] = ratio(phase["latency_ms"]["p99"], relay.get("p99"))
        p50[rate] = ratio(phase["latency_ms"]["p50"], relay.get("p50"))
    return {
        "projection_to_bare_durable": ratio(run["projection"]["per_second"], durable["circulation"]["per_second"]),
        "end_to_end_to_bare_durable": ratio(
            run["applications_saturation"]["decisions_per_second"], on_applications.get("per_second")
        ),
        "p99_to_bare_relay": p99,
        "p50_to_bare_relay": p50,
    }


def _worst(values: list[float | None], highest: bool) -> float | None:
    known = [v for v in values if v is not None]
    if not known or len(known) < len(values):
        return None  # a missing figure is never reported as met
    return max(known) if highest else min(known)


def summary(sizes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The worst ratio over the store sizes for each target, cross-size growth, memory and pruning."""
    ordered = [run for _, run in sorted(sizes.items(), key=lambda kv: int(kv[0]))]
    names = sorted(sizes, key=int)
    small, large = ordered[0], ordered[-1]
    ratios = [run["ratios"] for run in ordered]
    projection = _worst([r["projection_to_bare_durable"] for r in ratios], highest=False)
    end_to_end = _worst([r["end_to_end_to_bare_durable"] for r in ratios], highest=False)
    projection_growth = ratio(large["projection"]["us_per_event"], small["projection"]["us_per_event"])
    apps_growth = ratio(
        small["applications_saturation"]["decisions_per_second"],
        large["applications_saturation"]["decisions_per_second"],
    )
    quarters = [run["projection"]["rss_mb_at_quarters"] for run in ordered]
    growth = [round(q[-1] - q[0], 1) for q in quarters if q and q[0] is not None and q[-1] is not None]
    pruned = all(run["pruning"]["short_retention"]["after"]["inbox"] == 0 for run in ordered)
    targets: list[tuple[str, Any, bool]] = [
        (f"projection events/s >= {PROJECTION_RATIO_TARGET} x the bare durable consumer's", projection,
         projection is not None and projection >= PROJECTION_RATIO_TARGET),
        (f"end-to-end decisions/s >= {END_TO_END_RATIO_TARGET} x the bare durable consumer's", end_to_end,
         end_to_end is not None and end_to_end >= END_TO_END_RATIO_TARGET),
    ]  # fmt: skip
    for rate in ratios[0]["p99_to_bare_relay"]:
        worst = _worst([r["p99_to_bare_relay"].get(rate) for r in ratios], highest=True)
        targets.append((f"p99 <= {P99_RATIO_TARGET} x the bare relay's at {rate}/s", worst,
                        worst is not None and worst <= P99_RATIO_TARGET))  # fmt: skip
    targets += [
        ("memory flat: service RSS change from 1/4 to all of the projection (MB)", max(growth) if growth else None,
         bool(growth) and max(growth) < FLAT_MEMORY_MB),
        (f"projection cost per event at {names[-1]} within {COST_GROWTH_TARGET}x of {names[0]}", projection_growth,
         projection_growth is not None and projection_growth <= COST_GROWTH_TARGET),
        (f"application cost per decision at {names[-1]} within {COST_GROWTH_TARGET}x of {names[0]}", apps_growth,
         apps_growth is not None and apps_growth <= COST_GROWTH_TARGET),
        ("store bounded: inbox empty after a prune at a short retention", pruned, pruned),
    ]  # fmt: skip
    return {
        "ratios_by_size": {name: run["ratios"] for name, run in zip(names, ordered, strict=True)},
        "projection_cost_growth": projection_growth,
        "applications_cost_growth": apps_growth,
        "service_peak_rss_mb": [run["memory"]["service_peak_rss_mb"] for run in ordered],
        "targets": [{"target": t, "measured": m, "met": bool(ok)} for t, m, ok in targets],
    }
