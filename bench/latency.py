"""Latency and throughput of an application phase, and how the applicants are shared out between phases."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bench.traffic import OutcomeReader
from bench.workload import Application


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50, p95, p99 and max of ``values`` (nearest rank), in milliseconds from seconds."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        index = max(0, min(len(ordered) - 1, math.ceil(p / 100.0 * len(ordered)) - 1))
        return round(ordered[index] * 1000.0, 2)

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": round(ordered[-1] * 1000.0, 2)}


def rate_key(rate: float) -> str:
    """The key a fixed offered rate has in results.json ("50", "200", "12.5")."""
    return f"{rate:g}"


def share_applicants(available: int, rates: Sequence[float], seconds: float, saturation: int) -> tuple[list[int], int]:
    """How many applicants each fixed-rate phase and the saturation burst get, none applying twice.

    Each rate offers ``rate * seconds`` applications, capped at an equal share of the applicants (one
    share per rate and one for the burst); the burst gets ``saturation``, capped at what is left.
    """
    share = available // (len(rates) + 1)
    fixed = [min(int(rate * seconds), share) for rate in rates]
    return fixed, max(0, min(saturation, available - sum(fixed)))


def phase_result(apps: list[Application], sent: dict[str, float], reader: OutcomeReader, offered: float | None) -> dict:
    """Decisions, certificates, unexpected outcomes and latency of one phase of the service."""
    outcomes = {a.application_id: reader.outcomes.get(a.application_id) for a in apps}
    done = [(a, o) for a in apps if (o := outcomes[a.application_id]) is not None]
    latencies = [o.at - sent[a.application_id] for a, o in done]
    wrong = sum(1 for a, o in done if (o.kind == "cleared") != a.expect_cleared)
    certificates = sum(1 for _, o in done if o.kind == "cleared")
    first = min(sent.values()) if sent else 0.0
    last = max((o.at for _, o in done), default=first)
    seconds = max(last - first, 1e-9)
    return {
        "offered_per_second": offered,
        "applications": len(apps),
        "decided": len(done),
        "certificates": certificates,
        "blocked": len(done) - certificates,
        "unexpected_outcomes": wrong,
        "seconds": round(seconds, 3),
        "decisions_per_second": round(len(done) / seconds, 1),
        "certificates_per_second": round(certificates / seconds, 1),
        "latency_ms": percentiles(latencies),
    }


def relay_result(apps: list[Application], sent: dict[str, float], reader: OutcomeReader, offered: float) -> dict:
    """How many applications the bare relay passed on and their latency, publish to output consumed."""
    done = [(a, o) for a in apps if (o := reader.outcomes.get(a.application_id)) is not None]
    first = min(sent.values()) if sent else 0.0
    last = max((o.at for _, o in done), default=first)
    return {
        "offered_per_second": offered,
        "applications": len(apps),
        "relayed": len(done),
        "seconds": round(max(last - first, 1e-9), 3),
        "latency_ms": percentiles([o.at - sent[a.application_id] for a, o in done]),
    }
