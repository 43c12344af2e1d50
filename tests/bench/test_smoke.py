"""The benchmark's smoke mode runs end to end and writes well-formed output (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke_run(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("CLEARANCE_")}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out), "--bootstrap", kafka_bootstrap],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    return done, out


def test_the_smoke_run_completes(smoke_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    done, _ = smoke_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for line in ("projection / bare durable", "end to end / bare durable", "p99 / bare relay p99"):
        assert line in done.stdout


def test_the_results_hold_every_figure_for_both_store_sizes(
    smoke_run: tuple[subprocess.CompletedProcess, Path],
) -> None:
    _, out = smoke_run
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["smoke"] is True
    assert sorted(results["sizes"], key=int) == ["200", "400"]
    for run in results["sizes"].values():
        assert run["preload"]["students"] > 0 and run["preload"]["total_rows"] > 0
        assert run["ceiling"]["records"] == results["config"]["events"]
        assert run["projection"]["records"] >= results["config"]["events"]
        assert run["projection"]["per_second"] > 0 and run["projection"]["ratio_to_ceiling"] > 0
        assert sorted(run["applications_fixed_rates"], key=float) == ["50", "200"]
        for phase in [*run["applications_fixed_rates"].values(), run["applications_saturation"]]:
            assert phase["decided"] == phase["applications"] > 0
            assert phase["unexpected_outcomes"] == 0
            assert set(phase["latency_ms"]) == {"p50", "p95", "p99", "max"}
            assert all(v is not None and v >= 0 for v in phase["latency_ms"].values())
        assert run["memory"]["service_peak_rss_mb"] > 0
        assert run["service_exit_code"] == 0


def test_both_references_ran_on_the_records_the_service_consumed(
    smoke_run: tuple[subprocess.CompletedProcess, Path],
) -> None:
    _, out = smoke_run
    results = json.loads((out / "results.json").read_text())
    for run in results["sizes"].values():
        durable = run["bare_durable"]
        assert durable["database"] == run["database"]
        assert durable["circulation"]["records"] == run["projection"]["records"] == results["config"]["events"]
        assert durable["applications"]["records"] == run["applications_saturation"]["applications"]
        assert all(durable[on]["per_second"] > 0 for on in ("circulation", "applications"))
        assert run["bare_relay_exit_code"] == 0
        assert sorted(run["bare_relay"]) == sorted(run["applications_fixed_rates"])
        for rate, relay in run["bare_relay"].items():
            assert relay["offered_per_second"] == float(rate)
            assert relay["relayed"] == relay["applications"] == run["applications_fixed_rates"][rate]["applications"]
            assert all(v is not None and v > 0 for v in relay["latency_ms"].values())


def test_every_figure_has_its_ratio_to_its_reference(smoke_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    _, out = smoke_run
    results = json.loads((out / "results.json").read_text())
    for size, run in results["sizes"].items():
        ratios = run["ratios"]
        assert ratios["projection_to_bare_durable"] > 0
        assert ratios["end_to_end_to_bare_durable"] > 0
        assert sorted(ratios["p99_to_bare_relay"], key=float) == ["50", "200"]
        assert all(v > 0 for v in ratios["p99_to_bare_relay"].values())
        assert results["summary"]["ratios_by_size"][size] == ratios


def test_a_prune_at_a_short_retention_empties_the_inbox_and_the_published_outbox(
    smoke_run: tuple[subprocess.CompletedProcess, Path],
) -> None:
    _, out = smoke_run
    for run in json.loads((out / "results.json").read_text())["sizes"].values():
        pruning = run["pruning"]
        assert pruning["before"]["inbox"] > 0 and pruning["before"]["outbox"] > 0
        assert pruning["default_retention"]["after"]["inbox"] < pruning["before"]["inbox"]
        assert pruning["short_retention"]["after"] == {"outbox": 0, "inbox": 0}


def test_the_summary_lists_every_target(smoke_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    _, out = smoke_run
    targets = json.loads((out / "results.json").read_text())["summary"]["targets"]
    assert len(targets) == 8  # projection, end to end, p99 at 50/s and at 200/s, memory, two growths, pruning
    assert all(t["measured"] is not None for t in targets)
    assert all(isinstance(t["met"], bool) and t["target"] for t in targets)


def test_the_chart_is_a_png_image(smoke_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    _, out = smoke_run
    chart = out / "chart.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(chart) as image:
        image.verify()
    with Image.open(chart) as image:
        assert image.format == "PNG" and image.size[0] > 400 and image.size[1] > 200
