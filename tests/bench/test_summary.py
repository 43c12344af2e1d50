"""The ratios of the service to its references and the targets built on them (pure: no service needed)."""

from __future__ import annotations

from typing import Any

from bench.latency import rate_key, share_applicants
from bench.summary import ratio, size_ratios, summary


def _run(projection: float, durable: float, decisions: float, durable_apps: float | None,
         p99: dict[str, tuple[float, float]]) -> dict[str, Any]:  # fmt: skip
    """A store size's figures with only what the ratios and targets read; p99 maps rate -> (service, relay)."""
    latency = lambda p: {"p50": p / 2, "p95": p, "p99": p, "max": p}  # noqa: E731
    run = {
        "projection": {"per_second": projection, "us_per_event": 1e6 / projection, "rss_mb_at_quarters": [100.0] * 4},
        "bare_durable": {"circulation": {"per_second": durable},
                         "applications": None if durable_apps is None else {"per_second": durable_apps}},
        "applications_saturation": {"decisions_per_second": decisions},
        "applications_fixed_rates": {rate: {"latency_ms": latency(service)} for rate, (service, _) in p99.items()},
        "bare_relay": {rate: {"latency_ms": latency(relay)} for rate, (_, relay) in p99.items()},
        "memory": {"service_peak_rss_mb": 110.0},
        "pruning": {"short_retention": {"after": {"outbox": 0, "inbox": 0}}},
    }  # fmt: skip
    run["ratios"] = size_ratios(run)
    return run


def _target(result: dict[str, Any], starts: str) -> dict[str, Any]:
    (found,) = [t for t in result["targets"] if t["target"].startswith(starts)]
    return found


def test_each_ratio_divides_the_service_by_its_reference() -> None:
    run = _run(2_000, 10_000, 600, 3_000, {"50": (60.0, 40.0), "200": (90.0, 45.0)})
    assert run["ratios"]["projection_to_bare_durable"] == 0.2
    assert run["ratios"]["end_to_end_to_bare_durable"] == 0.2
    assert run["ratios"]["p99_to_bare_relay"] == {"50": 1.5, "200": 2.0}


def test_a_ratio_without_its_reference_is_missing_not_zero() -> None:
    assert ratio(5.0, None) is None
    assert ratio(5.0, 0.0) is None
    assert ratio(None, 5.0) is None


def test_a_target_takes_the_worst_store_size() -> None:
    sizes = {
        "200": _run(6_000, 10_000, 600, 1_000, {"50": (50.0, 50.0)}),
        "400": _run(4_000, 10_000, 900, 1_000, {"50": (70.0, 50.0)}),
    }
    result = summary(sizes)
    projection = _target(result, "projection events/s")
    assert projection["measured"] == 0.4 and projection["met"] is False
    end_to_end = _target(result, "end-to-end")
    assert end_to_end["measured"] == 0.6 and end_to_end["met"] is True
    latency = _target(result, "p99 <=")
    assert latency["measured"] == 1.4 and latency["met"] is False


def test_there_is_one_latency_target_per_offered_rate() -> None:
    result = summary({"200": _run(6_000, 10_000, 600, 1_000, {"50": (50.0, 50.0), "200": (55.0, 50.0)})})
    assert [t["target"] for t in result["targets"] if t["target"].startswith("p99")] == [
        "p99 <= 1.2 x the bare relay's at 50/s",
        "p99 <= 1.2 x the bare relay's at 200/s",
    ]


def test_a_target_whose_reference_was_not_measured_is_not_met() -> None:
    result = summary({"200": _run(6_000, 10_000, 600, None, {"50": (50.0, 50.0)})})
    end_to_end = _target(result, "end-to-end")
    assert end_to_end["measured"] is None and end_to_end["met"] is False


def test_no_applicant_is_given_to_two_phases() -> None:
    fixed, burst = share_applicants(5_000, (50.0, 200.0), 30.0, 3_000)
    assert sum(fixed) + burst <= 5_000
    assert all(count <= 5_000 // 3 for count in fixed)


def test_a_rate_offers_its_rate_times_its_seconds_when_there_are_applicants_enough() -> None:
    fixed, burst = share_applicants(500_000, (50.0, 200.0), 30.0, 3_000)
    assert fixed == [1_500, 6_000] and burst == 3_000


def test_a_rate_keys_its_phase_without_a_trailing_zero() -> None:
    assert [rate_key(r) for r in (50.0, 200.0, 12.5)] == ["50", "200", "12.5"]
