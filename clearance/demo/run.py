"""``clearance demo``: the service on its embedded default, doing its job on a simulated period.

Starts the embedded broker, runs the service on a SQLite file, publishes a
simulated graduation period in two phases, reads back what the service
publishes, prints progress and a summary, checks every outcome against the
simulation and writes the certificates to an output folder.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from clearance.bootstrap import create_service
from clearance.demo.broker import EmbeddedBroker
from clearance.demo.eventfactory import record_of, topic_of
from clearance.demo.simulation import GraduationPeriod, Student, simulate
from clearance.demo.trust import forged_return, stream_of, write_trust_file
from clearance.observability.logging import configure_logging, quiet_libraries
from clearance.service import Service
from clearance.settings import Settings
from clearance.signing.keys import KeyRing, verify
from clearance.verification.letters import write_pdfs
from schemas.registry import Topic


class _Outputs:
    """What the service published, read back from its output topics without a consumer group."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None, enable_auto_commit=False
        )
        topics = [settings.topic(Topic.STATUS), settings.topic(Topic.CERTIFICATES), settings.topic(Topic.DEAD_LETTER)]
        # Partitions as the broker has them: a topic may predate this run's partition setting.
        self.consumer.assign(
            [TopicPartition(t, p) for t in topics for p in sorted(self.consumer.partitions_for_topic(t) or ())]
        )
        self.consumer.seek_to_beginning()
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        self.issued: dict[str, dict[str, Any]] = {}
        self.revoked: dict[str, dict[str, Any]] = {}
        # Dead letters by the id of the event they hold, with the headers that say why.
        self.refused: dict[str, dict[str, str]] = {}

    def read(self) -> None:
        for records in self.consumer.poll(timeout_ms=200).values():
            for record in records:
                if record.topic == self.settings.topic(Topic.DEAD_LETTER):
                    headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
                    self.refused[_event_id(record.value)] = headers
                    continue
                event = json.loads(record.value)
                data = event["data"]
                if event["type"] == "clearance.status.changed":
                    self.statuses.setdefault(data["application_id"], []).append(data)
                elif event["type"] == "clearance.certificate.issued":
                    self.issued[data["certificate"]["application_id"]] = data
                elif event["type"] == "clearance.certificate.revoked":
                    self.revoked[data["application_id"]] = data

    def status(self, application_id: str) -> str | None:
        history = self.statuses.get(application_id)
        return history[-1]["status"] if history else None

    def reasons(self, application_id: str) -> list[dict[str, Any]]:
        history = self.statuses.get(application_id)
        return history[-1]["reasons"] if history else []

    def close(self) -> None:
        self.consumer.close()


def _publish(producer: KafkaProducer, settings: Settings, events: Iterable[dict[str, Any]]) -> int:
    # Circulation first, then deposits, then the registrar: the facts exist before the applications do.
    order = {Topic.CIRCULATION: 0, Topic.DEPOSITS: 1, Topic.APPLICATIONS: 2}
    by_topic: dict[Topic, list[dict[str, Any]]] = {}
    for event in events:
        by_topic.setdefault(topic_of(event), []).append(event)
    count = 0
    for topic in sorted(by_topic, key=order.__getitem__):
        for event in by_topic[topic]:
            key, value = record_of(event)
            # Each producer writes its own topic, which the trust file binds it to (G11).
            producer.send(settings.topic_prefix + stream_of(event), key=key, value=value)
            count += 1
        producer.flush()
    return count


def _wait(
    outputs: _Outputs, label: str, done: Callable[[], tuple[int, int]], deadline: float, describe: Callable[[], str]
) -> bool:
    last = 0.0
    while True:
        outputs.read()
        reached, total = done()
        now = time.monotonic()
        if reached >= total or now > deadline or now - last > 1.0:
            click.echo(f"  {label}: {reached}/{total} {describe()}")
            last = now
        if reached >= total:
            return True
        if now > deadline:
            return False


def _counts(outputs: _Outputs, students: list[Student]) -> str:
    tally = Counter(outputs.status(s.application_id) or "waiting" for s in students)
    return "(" + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())) + ")"


def _explain(reason: dict[str, Any]) -> str:
    code = reason["code"]
    if code in ("OUTSTANDING_LOAN", "LOST_ITEM"):
        where = " (inter-library)" if reason.get("interlibrary") else ""
        return (
            f"{code} '{reason.get('title')}' at {reason.get('library_id')}{where}, due {reason.get('due_at', '')[:10]}"
        )
    if code == "UNPAID_FINES":
        return f"{code} {reason.get('currency')} {reason.get('amount')} at {reason.get('library_id')}"
    if code in ("THESIS_NOT_ACCEPTED", "THESIS_REJECTED"):
        return f"{code} ({reason.get('deposit_state')}{': ' + reason['detail'] if reason.get('detail') else ''})"
    return code


def run_demo(*, students: int, out_dir: Path, seed: int, timeout: float) -> int:
    """Run the demo; return the process exit code (0 when every outcome matched the simulation)."""
    configure_logging("console", "warning")
    quiet_libraries()  # kafka-python's own errors (a connection cut as the broker stops) are noise here
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("clearance.db", "clearance.db-wal", "clearance.db-shm"):
        (out_dir / stale).unlink(missing_ok=True)
    shutil.rmtree(out_dir / "certificates", ignore_errors=True)

    period = simulate(students, seed)
    click.echo(f"Simulated graduation period 2026-2: {len(period.students)} students, "
               f"{len(period.phase1)} events, then {len(period.phase2)} more.")  # fmt: skip
    started = time.monotonic()
    deadline = started + timeout
    broker = EmbeddedBroker()
    click.echo("Starting the embedded Kafka-compatible broker (Tansu) ...")
    broker.start()
    service: Service | None = None
    outputs: _Outputs | None = None
    try:
        settings = Settings(
            kafka_bootstrap_servers=broker.bootstrap_servers,
            database_url=f"sqlite:///{out_dir / 'clearance.db'}",
            key_dir=out_dir / "keys",
            topic_partitions=3,
            kafka_session_timeout_ms=6000,
            kafka_heartbeat_interval_ms=1000,
            poll_timeout_ms=200,
            relay_idle_seconds=0.02,
            log_format="console",
            log_level="warning",
            trust_file=write_trust_file(out_dir / "trust.toml", [*period.phase1, *period.phase2]),
        )
        click.echo(f"Producer trust: {settings.trust_file} binds each library, the deposit desk and the "
                   "registrar to its own topic.")  # fmt: skip
        click.echo(f"Starting the service on {broker.bootstrap_servers} with {settings.database_url} ...")
        service = create_service(settings)
        service.prepare()
        service.start()
        outputs = _Outputs(settings)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all", linger_ms=5)
        return _play(period, settings, service, outputs, producer, out_dir, deadline, started)
    finally:
        if outputs is not None:
            outputs.close()
        if service is not None:
            service.stop()
            service.close()
        broker.stop()


def _play(
    period: GraduationPeriod,
    settings: Settings,
    service: Service,
    outputs: _Outputs,
    producer: KafkaProducer,
    out_dir: Path,
    deadline: float,
    started: float,
) -> int:
    students = period.students
    click.echo(f"Phase 1: circulation history, deposits and {len(students)} applications ...")
    # The first student's application goes alone and first, so that her certificate is always
    # BP/2026-2/0000001: the README's commands after the demo name it.
    first = students[0].application_id if students else None
    later = [e for e in period.phase1 if _is_application(e) and e["data"]["application_id"] != first]
    _publish(producer, settings, [e for e in period.phase1 if not any(e is x for x in later)])
    if first is not None:
        _wait_for_certificate(outputs, first, deadline)
    _publish(producer, settings, later)
    decided = _wait(
        outputs,
        "decided",
        lambda: (
            sum(outputs.status(s.application_id) not in (None, "pending") for s in students),
            len(students),
        ),
        deadline,
        lambda: _counts(outputs, students),
    )
    if decided:
        _forge(period, settings, outputs, producer, deadline)
        click.echo(f"Phase 2: books returned, fines paid, deposits corrected, links and withdrawals "
                   f"({len(period.phase2)} events) ...")  # fmt: skip
        _publish(producer, settings, period.phase2)
        _wait(
            outputs, "as expected", lambda: (sum(_matches(outputs, s) for s in students), len(students)),
            deadline, lambda: _counts(outputs, students),
        )  # fmt: skip
    producer.close()
    outputs.read()
    return _summarise(period, settings, outputs, out_dir, time.monotonic() - started)


def _forge(
    period: GraduationPeriod, settings: Settings, outputs: _Outputs, producer: KafkaProducer, deadline: float
) -> None:
    """One library claims back another library's loan of a blocked student: the service must refuse it."""
    blocked = next((s for s in period.students if s.case == "blocked_loan"), None)
    if blocked is None:
        return
    patrons = {e["data"]["patron_id"] for e in period.phase1
               if e["type"] == "library.patron.linked" and e["data"]["student_id"] == blocked.student_id}  # fmt: skip
    forged = forged_return(period.phase1, dict.fromkeys(patrons, blocked.student_id))
    if forged is None:
        return
    click.echo(f"A forgery: {forged['source']} returns {blocked.full_name}'s loan {forged['data']['loan_id']} "
               f"of library {forged['data']['library_id']} ...")  # fmt: skip
    _publish(producer, settings, [forged])
    while forged["id"] not in outputs.refused and time.monotonic() < deadline:
        outputs.read()
    why = outputs.refused.get(forged["id"])
    if why is None:
        click.echo("  the forgery was not refused in time")
        return
    click.echo(f"  refused as {why.get('error-kind')}: {why.get('error-message')}")


def _event_id(value: bytes | None) -> str:
    try:
        found = json.loads(value or b"").get("id")
    except (ValueError, AttributeError):
        return ""
    return found if isinstance(found, str) else ""


def _is_application(event: dict[str, Any]) -> bool:
    return bool(event.get("type") == "graduation.application.submitted")


def _wait_for_certificate(outputs: _Outputs, application_id: str, deadline: float) -> None:
    # Bounded by the demo's deadline; a first student who does not clear still lets the rest play.
    while time.monotonic() < deadline:
        outputs.read()
        if application_id in outputs.issued or outputs.status(application_id) not in (None, "pending", "cleared"):
            return


def _matches(outputs: _Outputs, student: Student) -> bool:
    if outputs.status(student.application_id) != student.expected_status:
        return False
    if student.expected_status == "blocked":
        return {r["code"] for r in outputs.reasons(student.application_id)} == student.expected_reasons
    if student.expected_status == "cleared":
        return student.application_id in outputs.issued
    return True


def _summarise(period: GraduationPeriod, settings: Settings, outputs: _Outputs, out_dir: Path, seconds: float) -> int:
    students = period.students
    final = Counter(outputs.status(s.application_id) or "no decision" for s in students)
    reasons = Counter(r["code"] for s in students if outputs.status(s.application_id) == "blocked"
                      for r in outputs.reasons(s.application_id))  # fmt: skip
    cleared_later = [
        s for s in students
        if outputs.status(s.application_id) == "cleared"
        and any(h["status"] == "blocked" for h in outputs.statuses.get(s.application_id, []))
    ]  # fmt: skip
    mismatches = [s for s in students if not _matches(outputs, s)]

    certificates_dir = out_dir / "certificates"
    certificates_dir.mkdir(exist_ok=True)
    jwks = KeyRing(settings.key_dir).jwks()
    invalid = 0
    for data in outputs.issued.values():
        number = data["certificate"]["number"]
        (certificates_dir / f"{number.replace('/', '_')}.json").write_text(
            json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        invalid += not verify(data["certificate"], data["proof"], jwks)[0]
    (out_dir / "jwks.json").write_text(json.dumps(jwks, indent=2) + "\n", encoding="utf-8")
    pdfs = write_pdfs(settings, certificates_dir)  # the letters, each with a QR code to its verification page

    click.echo("")
    click.echo(f"Decided {len(students)} applications in {seconds:.1f} s.")
    click.echo("Final status:      " + ", ".join(f"{k} {v}" for k, v in sorted(final.items())))
    click.echo("Blocking reasons:  " + (", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "none"))
    click.echo(f"Certificates:      {len(outputs.issued)} issued, {len(outputs.revoked)} revoked, "
               f"{invalid} failing signature verification")  # fmt: skip
    click.echo(f"Blocked, then cleared with no one touching them: {len(cleared_later)}")
    examples = [s for s in students if outputs.status(s.application_id) == "blocked"][:6]
    if examples:
        click.echo("Some blocked students, and why:")
        for s in examples:
            why = "; ".join(_explain(r) for r in outputs.reasons(s.application_id))
            click.echo(f"  {s.student_id} {s.full_name} ({s.program}) - {why}")
    for s in cleared_later[:3]:
        number = outputs.issued[s.application_id]["certificate"]["number"]
        click.echo(f"  {s.student_id} {s.full_name}: blocked, then cleared as {number}")
    summary = {
        "students": len(students),
        "seconds": round(seconds, 2),
        "final_status": dict(final),
        "blocking_reasons": dict(reasons),
        "certificates_issued": len(outputs.issued),
        "certificates_revoked": len(outputs.revoked),
        "cleared_after_being_blocked": len(cleared_later),
        "mismatches": [
            {
                "student_id": s.student_id,
                "case": s.case,
                "expected": s.expected_status,
                "got": outputs.status(s.application_id),
                "reasons": outputs.reasons(s.application_id),
            }
            for s in mismatches
        ],
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(f"Certificates: {certificates_dir}, JSON and {len(pdfs)} PDFs  (public keys: {out_dir / 'jwks.json'})")
    if mismatches or invalid:
        click.echo(f"MISMATCH: {len(mismatches)} outcomes differ from the simulation's; see {out_dir / 'summary.json'}")
        for m in summary["mismatches"][:10]:
            click.echo(f"  {m}")
        return 1
    click.echo("Every outcome matches what the simulation expected.")
    _next_steps(out_dir, settings)
    return 0


def _next_steps(out_dir: Path, settings: Settings) -> None:
    """What to type next; the commands find the demo's folder by themselves when it is ./clearance-demo."""
    click.echo("")
    if out_dir != (Path.cwd() / "clearance-demo").resolve():
        click.echo("To use this demo's store with the other commands, set:")
        click.echo(f"  export CLEARANCE_DATABASE_URL={settings.database_url} CLEARANCE_KEY_DIR={settings.key_dir}")
        return
    click.echo("Next, in this folder (commands use ./clearance-demo while CLEARANCE_DATABASE_URL is unset):")
    click.echo("  clearance verify clearance-demo/certificates/BP_2026-2_0000001.json")
    click.echo("  clearance applications show 2020100045")
    click.echo(f"  clearance serve      # the letters' QR codes open on {settings.verify_base_url}")
