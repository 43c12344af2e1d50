"""The benchmark run: for each store size, pre-load, publish, run the references, then measure the service."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import profiling, references
from bench.config import BenchConfig
from bench.latency import phase_result, rate_key, share_applicants
from bench.population import applicant_students
from bench.preload import preload, row_counts
from bench.process import ServiceProcess
from bench.stores import fresh_store
from bench.summary import size_ratios
from bench.traffic import OutcomeReader, publish_all, publish_burst, publish_paced
from bench.workload import Application, CirculationMix, applications
from clearance.settings import Settings
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.migrate import upgrade
from producers.relay import OutboxRelay
from producers.topics import ensure_topics
from schemas.registry import Topic

WARMUP_APPLICATIONS = 5
WARMUP_RATE = 50.0


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

            self._plan_applications()
            self._references(settings, stack, label)
            self._service(settings, stack)
            self._projection(settings)
            self._applications(settings)
            self._finish(settings, engine)
            self.result["ratios"] = size_ratios(self.result)
        return self.result

    def _plan_applications(self) -> None:
        cfg, size = self.cfg, self.size
        available = len(applicant_students(size))
        # A few applications before any timed phase, the same for the service and the bare relay: the first
        # records pay for metadata, a producer id and fetch positions, which is start-up, not latency.
        self.warmup = applications(size, 0, min(WARMUP_APPLICATIONS, available // 10), "warmup")
        start = len(self.warmup)
        fixed, burst = share_applicants(available - start, cfg.rates, cfg.rate_seconds, cfg.saturation)
        self.at_rates: list[tuple[float, list[Application]]] = []
        for rate, count in zip(cfg.rates, fixed, strict=True):
            self.at_rates.append((rate, applications(size, start, count, f"rate{rate_key(rate)}")))
            start += count
        self.burst = applications(size, start, burst, "burst")

    def _references(self, settings: Settings, stack: ExitStack, label: str) -> None:
        """The ceiling, the bare durable consumer and the bare relay, before the service starts."""
        cfg, size, circulation = self.cfg, self.size, settings.topic(Topic.CIRCULATION)
        self.echo(f"[{size}] raw ceiling: a bare kafka-python consumer reads the {cfg.events} records ...")
        self.result["ceiling"] = references.ceiling(
            self.bootstrap, circulation, cfg.events, cfg.batch_max_records, cfg.timeout
        )
        # A scratch database beside the store, of the same kind, so the reference never shares the store's locks.
        scratch = stack.enter_context(fresh_store(cfg.database_url, cfg.out, f"{label}_bare", keep=cfg.keep))
        mine = settings.topic_prefix + "bench"
        own_topics = (f"{mine}.bare-applications", f"{mine}.relay-in", f"{mine}.relay-out")
        references.create_topics(self.bootstrap, own_topics, cfg.partitions)
        publish_all(self.bootstrap, own_topics[0], [a.record for a in self.burst])
        self.echo(f"[{size}] bare durable consumer: the {cfg.events} circulation records, "
                  f"then the {len(self.burst)} saturation applications, into a table of its own ...")  # fmt: skip
        durable = {
            "circulation": references.bare_durable(
                self.bootstrap, circulation, cfg.events, cfg.batch_max_records, scratch, cfg.timeout
            ),
            "applications": references.bare_durable(
                self.bootstrap, own_topics[0], len(self.burst), cfg.batch_max_records, scratch, cfg.timeout
            ) if self.burst else None,
            "database": make_url(scratch).get_backend_name(),
        }  # fmt: skip
        self.result["bare_durable"] = durable
        rates = ", ".join(f"{r:g}/s" for r, _ in self.at_rates)
        self.echo(f"[{size}] bare relay: consume, produce (idempotent, acks=all), commit at {rates} ...")
        relay, code = references.bare_relay_at_rates(
            self.bootstrap, (own_topics[1], own_topics[2]), cfg.batch_max_records, self.at_rates, 120,
            cfg.out / f"relay-{size}.log", self.warmup,
        )  # fmt: skip
        self.result["bare_relay"] = relay
        self.result["bare_relay_exit_code"] = code

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
        bare = self.result["bare_durable"]["circulation"]["per_second"]
        self.result["projection"] = {
            "records": p.records,
            "batches": p.batches,
            "seconds": round(seconds, 3),
            "per_second": round(per_second, 1),
            "us_per_event": round(1e6 / per_second, 1),
            "ratio_to_bare_durable": round(per_second / bare, 3) if bare else None,
            "ratio_to_ceiling": round(per_second / ceiling, 3) if ceiling else None,
            "rss_mb_at_quarters": [round(marks[m] / 1024, 1) if marks.get(m) else None for m in checkpoints],
        }

    def _applications(self, settings: Settings) -> None:
        cfg, size = self.cfg, self.size
        _wait_positions(settings.database_url, Topic.APPLICATIONS.value, 120)
        topic = settings.topic(Topic.APPLICATIONS)
        reader = OutcomeReader(self.bootstrap, [settings.topic(Topic.STATUS), settings.topic(Topic.CERTIFICATES)])
        reader.start()
        try:
            if self.warmup:
                sent = publish_paced(self.bootstrap, topic, self.warmup, WARMUP_RATE)
                reader.wait_for([a.application_id for a in self.warmup], 120)
                self.result["warmup"] = phase_result(self.warmup, sent, reader, WARMUP_RATE)
            at_rates: dict[str, Any] = {}
            for rate, apps in self.at_rates:
                self.echo(f"[{size}] applications at {rate:g}/s offered: {len(apps)} over {len(apps) / rate:.1f}s ...")
                sent = publish_paced(self.bootstrap, topic, apps, rate)
                reader.wait_for([a.application_id for a in apps], 120)
                at_rates[rate_key(rate)] = phase_result(apps, sent, reader, rate)
            self.result["applications_fixed_rates"] = at_rates

            apps = self.burst
            self.echo(f"[{size}] applications at saturation: {len(apps)} published at once ...")
            sampler = self._sampler("applications")
            sent = publish_burst(self.bootstrap, topic, apps)
            reader.wait_for([a.application_id for a in apps], cfg.timeout)
            self._profiled(sampler, "applications")
            self.result["applications_saturation"] = phase_result(apps, sent, reader, None)
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
