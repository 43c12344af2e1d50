"""The benchmark run: for each store size, pre-load, publish, measure the ceiling, the projection and applications."""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench import profiling
from bench.population import applicant_students
from bench.preload import preload, row_counts
from bench.process import ServiceProcess
from bench.stores import fresh_store
from bench.traffic import OutcomeReader, publish_all, publish_burst, publish_paced
from bench.workload import Application, CirculationMix, applications
from clearance.settings import Settings
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.migrate import upgrade
from producers.relay import OutboxRelay
from producers.topics import ensure_topics
from schemas.registry import Topic


@dataclass
class BenchConfig:
    """What to run; ``smoke()`` gives the tiny CI configuration."""

    out: Path
    events: int = 100_000
    sizes: tuple[int, ...] = (10_000, 1_000_000)
    rate: float = 100.0
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
        """Tiny figures: proves the run works end to end and writes well-formed output; times mean nothing."""
        self.smoke = True
        self.events, self.sizes, self.rate, self.rate_seconds, self.saturation = 300, (200, 400), 20.0, 2.0, 40
        self.partitions, self.timeout = 3, 180.0
        return self


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50, p95, p99 and max of ``values`` (nearest rank), in milliseconds from seconds."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        index = max(0, min(len(ordered) - 1, math.ceil(p / 100.0 * len(ordered)) - 1))
        return round(ordered[index] * 1000.0, 2)

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": round(ordered[-1] * 1000.0, 2)}


def _phase_result(
    apps: list[Application], sent: dict[str, float], reader: OutcomeReader, offered: float | None
) -> dict:
    outcomes = {a.application_id: reader.outcomes.get(a.application_id) for a in apps}
    done = [a for a in apps if outcomes[a.application_id] is not None]
    latencies = [outcomes[a.application_id].at - sent[a.application_id] for a in done]  # type: ignore[union-attr]
    wrong = sum(1 for a in done if (outcomes[a.application_id].kind == "cleared") != a.expect_cleared)  # type: ignore[union-attr]
    certificates = sum(1 for a in done if outcomes[a.application_id].kind == "cleared")  # type: ignore[union-attr]
    first = min(sent.values()) if sent else 0.0
    last = max((outcomes[a.application_id].at for a in done), default=first)  # type: ignore[union-attr]
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


def _wait_positions(url: str, topic: str, timeout: float) -> None:
    """Wait until the service's consumer of ``topic`` holds its partitions (it reports their positions)."""
    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                found = conn.execute(
                    text("SELECT count(*) FROM consumer_positions WHERE topic = :t"), {"t": topic}
                ).scalar_one()
            if found:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the service's consumer of {topic} did not join within {timeout}s")
            time.sleep(0.2)
    finally:
        engine.dispose()


def _prune(settings: Settings, retention_seconds: float | None) -> dict[str, Any]:
    """Run the relay's own prune once, with the configured retention or a short one."""
    if retention_seconds is not None:
        settings = settings.model_copy(update={"retention_days": retention_seconds / 86_400.0})
    settings = settings.model_copy(update={"prune_interval_seconds": 1e-6})
    engine = make_engine(settings.database_url)
    try:
        relay = OutboxRelay(settings, make_session_factory(engine), threading.Event())
        time.sleep(0.01)
        started = time.monotonic()
        pruned = relay.prune_if_due() or (0, 0)
        seconds = time.monotonic() - started
        counts = row_counts(engine, ["outbox", "inbox"])
    finally:
        engine.dispose()
    return {
        "retention_days": settings.retention_days,
        "deleted_outbox": pruned[0],
        "deleted_inbox": pruned[1],
        "seconds": round(seconds, 3),
        "after": counts,
    }


def _ceiling(bootstrap: str, topic: str, count: int, max_poll: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.ceiling", bootstrap, topic, str(count), str(max_poll)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the ceiling reader failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {k: round(v, 3) for k, v in result.items() if k in ("records", "seconds", "per_second")}


@dataclass
class SizeRun:
    """One store size's run."""

    cfg: BenchConfig
    size: int
    bootstrap: str
    echo: Callable[[str], None]
    result: dict[str, Any] = field(default_factory=dict)

    def run(self) -> dict[str, Any]:
        cfg, size = self.cfg, self.size
        label = f"{size}"
        with ExitStack() as stack:
            url = stack.enter_context(fresh_store(cfg.database_url, cfg.out, label, keep=cfg.keep))
            engine = make_engine(url)
            stack.callback(engine.dispose)
            self.result["database"] = engine.dialect.name
            upgrade(url)
            self.echo(f"[{size}] pre-loading {size} students with bulk SQL ({engine.dialect.name}) ...")
            loaded = preload(engine, size)
            self.result["preload"] = {"students": size, "rows": loaded.rows, "total_rows": loaded.total_rows,
                                      "seconds": round(loaded.seconds, 1), "method": "bulk SQL (COPY on PostgreSQL, "
                                      "executemany on SQLite) straight into the tables, not through Kafka"}  # fmt: skip
            prefix = f"bench{uuid.uuid4().hex[:8]}."
            settings = Settings(
                kafka_bootstrap_servers=self.bootstrap, database_url=url, topic_prefix=prefix,
                topic_partitions=cfg.partitions, batch_max_records=cfg.batch_max_records,
            )  # fmt: skip
            ensure_topics(settings)
            circulation = settings.topic(Topic.CIRCULATION)

            self.echo(f"[{size}] generating and publishing {cfg.events} circulation events ...")
            mix = CirculationMix(size, cfg.seed)
            records = list(mix.records(cfg.events))
            published = publish_all(self.bootstrap, circulation, records)
            del records
            self.result["circulation_mix"] = dict(sorted(mix.counts.items()))
            self.result["publish_seconds"] = round(published, 2)

            self.echo(f"[{size}] raw ceiling: a bare kafka-python consumer reads the {cfg.events} records ...")
            self.result["ceiling"] = _ceiling(self.bootstrap, circulation, cfg.events, cfg.batch_max_records)
            self._service(settings, stack)
            self._projection(settings)
            self._applications(settings)
            self._finish(settings, engine)
        return self.result

    def _service(self, settings: Settings, stack: ExitStack) -> None:
        env = {
            "CLEARANCE_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "CLEARANCE_DATABASE_URL": settings.database_url,
            "CLEARANCE_TOPIC_PREFIX": settings.topic_prefix,
            "CLEARANCE_GROUP_ID": f"{settings.topic_prefix}graduation-clearance",
            "CLEARANCE_KEY_DIR": str(self.cfg.out / "keys"),
            "CLEARANCE_TOPIC_PARTITIONS": str(self.cfg.partitions),
            "CLEARANCE_BATCH_MAX_RECORDS": str(self.cfg.batch_max_records),
            # Quicker group joins; everything else is the service's default.
            "CLEARANCE_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "CLEARANCE_KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
            "CLEARANCE_LOG_FORMAT": "json",
            "CLEARANCE_LOG_LEVEL": "info",
        }
        self.service = ServiceProcess(env, self.cfg.out / f"service-{self.size}.log").start()
        stack.callback(self.service.stop)
        self.service.wait_started(120)

    def _sampler(self, phase: str) -> profiling.Sampler | None:
        if not self.cfg.profile:
            return None
        if not profiling.available():
            self.echo("  (py-spy is not installed: no profile)")
            return None
        return profiling.Sampler(self.service.pid, self.cfg.out / f"profile-{self.size}-{phase}.raw").start()

    def _profiled(self, sampler: profiling.Sampler | None, phase: str) -> None:
        if sampler is None:
            return
        raw = sampler.stop()
        if raw is None:
            self.result.setdefault("profiles", {})[phase] = None
            return
        summary = profiling.summarise(raw)
        profiling.write_summary(summary, raw.with_suffix(".txt"), f"{phase}, {self.size} students")
        self.result.setdefault("profiles", {})[phase] = {"raw": raw.name, "summary": raw.with_suffix(".txt").name,
                                                         "top_self": summary["self_percent"][:10]}  # fmt: skip

    def _projection(self, settings: Settings) -> None:
        cfg = self.cfg
        sampler = self._sampler("projection")
        marks: dict[int, int | None] = {}
        checkpoints = [cfg.events * q // 4 for q in (1, 2, 3, 4)]

        def on_progress(done: int) -> None:
            for mark in checkpoints:
                if done >= mark and mark not in marks:
                    marks[mark] = self.service.rss_kb()

        self.echo(f"[{self.size}] projection: the service applies the {cfg.events} events ...")
        p = self.service.wait_records(Topic.CIRCULATION.value, cfg.events, cfg.timeout, on_progress)
        self._profiled(sampler, "projection")
        assert p.first_t0 is not None and p.last_t1 is not None
        seconds = max(p.last_t1 - p.first_t0, 1e-9)
        per_second = p.records / seconds
        ceiling = self.result["ceiling"]["per_second"]
        self.result["projection"] = {
            "records": p.records,
            "batches": p.batches,
            "seconds": round(seconds, 3),
            "per_second": round(per_second, 1),
            "us_per_event": round(1e6 / per_second, 1),
            "ratio_to_ceiling": round(per_second / ceiling, 3) if ceiling else None,
            "rss_mb_at_quarters": [round(marks[m] / 1024, 1) if marks.get(m) else None for m in checkpoints],
        }

    def _applications(self, settings: Settings) -> None:
        cfg, size = self.cfg, self.size
        _wait_positions(settings.database_url, Topic.APPLICATIONS.value, 120)
        available = len(applicant_students(size))
        fixed = min(int(cfg.rate * cfg.rate_seconds), available // 2)
        burst = min(cfg.saturation, available - fixed)
        topic = settings.topic(Topic.APPLICATIONS)
        reader = OutcomeReader(self.bootstrap, [settings.topic(Topic.STATUS), settings.topic(Topic.CERTIFICATES)])
        reader.start()
        try:
            apps = applications(size, 0, fixed, "rate")
            self.echo(f"[{size}] applications at {cfg.rate:g}/s offered: {fixed} over {fixed / cfg.rate:.0f}s ...")
            sent = publish_paced(self.bootstrap, topic, apps, cfg.rate)
            reader.wait_for([a.application_id for a in apps], 120)
            self.result["applications_fixed_rate"] = _phase_result(apps, sent, reader, cfg.rate)

            apps = applications(size, fixed, burst, "burst")
            self.echo(f"[{size}] applications at saturation: {burst} published at once ...")
            sampler = self._sampler("applications")
            sent = publish_burst(self.bootstrap, topic, apps)
            reader.wait_for([a.application_id for a in apps], cfg.timeout)
            self._profiled(sampler, "applications")
            self.result["applications_saturation"] = _phase_result(apps, sent, reader, None)
        finally:
            reader.stop()

    def _finish(self, settings: Settings, engine: Any) -> None:
        samples = [kb for _, kb in self.service.rss_samples]
        self.result["memory"] = {
            "service_peak_rss_mb": round((self.service.peak_rss_kb() or 0) / 1024, 1),
            "service_rss_mb_min_max": [round(min(samples) / 1024, 1), round(max(samples) / 1024, 1)]
            if samples
            else None,
            "method": "VmHWM and VmRSS of the service's child process, from /proc",
        }
        code = self.service.stop()
        self.result["service_exit_code"] = code
        before = row_counts(engine, ["outbox", "inbox"])
        default = _prune(settings, None)
        # Let everything written so far age past the short retention, so that it must all go.
        time.sleep(self.cfg.prune_retention_seconds + 0.5)
        short = _prune(settings, self.cfg.prune_retention_seconds)
        self.result["pruning"] = {"before": before, "default_retention": default, "short_retention": short}


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
        or cfg.database_url.startswith("sqlite") else _redact(cfg.database_url),
    }  # fmt: skip


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def bench_peak_rss_mb() -> float:
    """The benchmark process's own peak RSS (it holds the generated records)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def config_json(cfg: BenchConfig) -> dict[str, Any]:
    values = asdict(cfg)
    values["out"] = str(cfg.out)
    values["database_url"] = _redact(cfg.database_url) if cfg.database_url else None
    return values
