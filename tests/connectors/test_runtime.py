"""The shared connector runtime: ids, the publisher on a real broker, the state store on SQLite and
PostgreSQL, and the pass loop (once, interval, back-off, signals, probes)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from services import fresh_postgres_database
from topic_reader import read_topic

from clearance.settings import Settings
from connectors.runtime import (
    Outgoing,
    PassResult,
    Publisher,
    PublishError,
    StateStore,
    event_id,
    run,
)

REPO = Path(__file__).resolve().parents[2]


# -- event ids ----------------------------------------------------------------


def test_an_event_id_is_the_same_for_the_same_row_and_version() -> None:
    assert event_id("slims", "central", "loan", 7, "renewed", 2) == event_id(
        "slims", "central", "loan", "7", "renewed", "2"
    )
    assert uuid.UUID(event_id("x")).version == 5


def test_an_event_id_differs_by_version_and_by_how_parts_split() -> None:
    assert event_id("slims", "central", "loan", 7, "renewed", 2) != event_id(
        "slims", "central", "loan", 7, "renewed", 3
    )
    assert event_id("ab", "c") != event_id("a", "bc")


# -- state store --------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


def test_the_state_store_keeps_json_values_across_reopening(state_url: str) -> None:
    store = StateStore(state_url, "slims")
    store.put({"checkpoint": {"loan": 42}, "member:A1": {"loans": {"7": "2026-12-01"}, "fines": {}}})
    store.close()
    reopened = StateStore(state_url, "slims")
    assert reopened.get("checkpoint") == {"loan": 42}
    assert reopened.get("member:A1") == {"loans": {"7": "2026-12-01"}, "fines": {}}
    assert reopened.get("missing") is None
    reopened.close()


def test_putting_none_deletes_a_key_and_putting_again_replaces(state_url: str) -> None:
    store = StateStore(state_url, "slims")
    store.put({"a": 1, "b": 2})
    store.put({"a": None, "b": 3})
    assert store.get("a") is None
    assert store.get("b") == 3
    store.close()


def test_scan_takes_its_prefix_literally_and_sees_only_its_connector(state_url: str) -> None:
    slims, folio = StateStore(state_url, "slims"), StateStore(state_url, "folio")
    slims.put({"member:A_1": 1, "member:AX1": 2, "member%": 3, "other": 4})
    folio.put({"member:A_1": 99})
    assert slims.scan("member:A_") == {"member:A_1": 1}
    assert slims.scan("member%") == {"member%": 3}
    assert folio.scan("member:") == {"member:A_1": 99}
    slims.close()
    folio.close()


def test_a_large_put_is_one_transaction_that_lands_whole(state_url: str) -> None:
    store = StateStore(state_url, "slims")
    store.put({f"member:{i:05d}": {"n": i} for i in range(2_500)})
    assert len(store.scan("member:")) == 2_500
    store.close()


# -- publisher ----------------------------------------------------------------


def _settings(bootstrap: str) -> Settings:
    return Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}.")


def _event(n: int) -> Outgoing:
    return Outgoing(
        key=f"P-{n % 3}",
        event={"specversion": "1.0", "id": event_id("test", n), "source": "urn:library:test", "type": "x",
               "time": "2026-12-01T10:00:00+07:00", "subject": f"P-{n % 3}", "data": {"n": n}},
    )  # fmt: skip


def test_the_publisher_delivers_every_record_keyed_by_subject(kafka_bootstrap: str) -> None:
    settings = _settings(kafka_bootstrap)
    topic = f"{settings.topic_prefix}library.circulation"
    publisher = Publisher(settings, topic)
    publisher.publish([_event(n) for n in range(50)])
    publisher.close()
    records = read_topic(kafka_bootstrap, topic, at_least=50)
    assert sorted(json.loads(r.value)["data"]["n"] for r in records) == list(range(50))
    for r in records:
        assert r.key == json.loads(r.value)["subject"].encode()
        assert r.headers["content-type"] == b"application/cloudevents+json"


def test_the_publisher_raises_when_the_broker_cannot_be_reached() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{port}")
    publisher = Publisher(settings, "library.circulation")
    with pytest.raises(PublishError):
        publisher.publish([_event(1)])
    publisher.close()


# -- the pass loop ------------------------------------------------------------


class Scripted:
    """A connector whose passes do what the test says: fail with an exception, or publish n."""

    name = "scripted"

    def __init__(self, *outcomes: int | Exception, stop: threading.Event | None = None) -> None:
        self.outcomes = list(outcomes)
        self.passes = 0
        self.stop = stop
        self.closed = False

    def run_pass(self, publisher: Publisher, state: StateStore) -> PassResult:
        self.passes += 1
        outcome = self.outcomes.pop(0) if self.outcomes else 0
        if not self.outcomes and self.stop is not None:
            self.stop.set()
        if isinstance(outcome, Exception):
            raise outcome
        return PassResult(published=outcome, unmappable=1)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[tuple[Publisher, StateStore]]:
    publisher = Publisher(Settings(), "unused")
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}", "scripted")
    yield publisher, state
    state.close()


def test_once_runs_one_pass_and_exits_zero(offline: tuple[Publisher, StateStore]) -> None:
    connector = Scripted(3, 3)
    code = run(
        connector, publisher=offline[0], state=offline[1], once=True, interval=0, metrics_host="", metrics_port=0
    )
    assert (code, connector.passes) == (0, 1)


def test_once_exits_one_when_the_pass_failed(offline: tuple[Publisher, StateStore]) -> None:
    connector = Scripted(ConnectionError("source down"))
    code = run(
        connector, publisher=offline[0], state=offline[1], once=True, interval=0, metrics_host="", metrics_port=0
    )
    assert code == 1


def test_a_failed_pass_is_retried_until_one_succeeds(offline: tuple[Publisher, StateStore]) -> None:
    stop = threading.Event()
    connector = Scripted(ConnectionError("down"), PublishError("not acknowledged"), 5, stop=stop)
    code = run(connector, publisher=offline[0], state=offline[1], once=False, interval=0, metrics_host="",
               metrics_port=0, stop=stop)  # fmt: skip
    assert (code, connector.passes) == (0, 3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_and_probes_follow_the_passes(offline: tuple[Publisher, StateStore]) -> None:
    port = _free_port()
    stop = threading.Event()
    gate = threading.Event()

    class Gated(Scripted):
        def run_pass(self, publisher: Publisher, state: StateStore) -> PassResult:
            gate.wait(10)
            gate.clear()
            return super().run_pass(publisher, state)

    connector = Gated(4, ConnectionError("down"), 0)
    thread = threading.Thread(target=run, args=(connector,), kwargs=dict(
        publisher=offline[0], state=offline[1], once=False, interval=0, metrics_host="127.0.0.1",
        metrics_port=port, stop=stop))  # fmt: skip
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                assert _get(f"{base}/readyz")[0] == 503  # no pass done yet
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert _get(f"{base}/livez")[0] == 200
        gate.set()
        _wait(lambda: _get(f"{base}/readyz")[0] == 200)
        text = _get(f"{base}/metrics")[1]
        assert 'clearance_connector_events_published_total{connector="scripted"} 4.0' in text
        assert 'clearance_connector_rows_unmappable_total{connector="scripted"} 1.0' in text
        assert 'clearance_connector_pass_seconds_count{connector="scripted"} 1.0' in text
        assert "clearance_connector_last_success_timestamp_seconds" in text
        gate.set()
        _wait(lambda: _get(f"{base}/readyz")[0] == 503)
        assert "down" in _get(f"{base}/readyz")[1]
    finally:
        stop.set()
        gate.set()
        thread.join(30)
    assert not thread.is_alive()


def _wait(condition, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_lets_the_pass_in_hand_finish_then_exits_zero(tmp_path: Path, signum: int) -> None:
    marks = tmp_path / "marks"
    script = textwrap.dedent(f"""
        import time
        from clearance.settings import Settings
        from connectors.runtime import PassResult, Publisher, StateStore, run

        class Slow:
            name = "slow"
            def run_pass(self, publisher, state):
                with open({str(marks)!r}, "a") as f:
                    f.write("start\\n"); f.flush(); time.sleep(1.5); f.write("end\\n")
                return PassResult()
            def close(self):
                pass

        raise SystemExit(run(Slow(), publisher=Publisher(Settings(), "t"),
                             state=StateStore("sqlite:///{tmp_path / "s.db"}", "slow"),
                             once=False, interval=30, metrics_host="", metrics_port=0))
    """)
    process = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)})
    _wait(lambda: marks.exists() and "start" in marks.read_text())
    process.send_signal(signum)
    assert process.wait(30) == 0
    assert marks.read_text().split() == ["start", "end"]


def test_batches_acknowledged_before_a_pass_failed_are_counted(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = _settings(kafka_bootstrap)
    publisher = Publisher(settings, f"{settings.topic_prefix}library.circulation")
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}", "halfway")
    port = _free_port()

    class Halfway:
        name = "halfway"

        def run_pass(self, publisher: Publisher, state: StateStore) -> PassResult:
            publisher.publish([_event(n) for n in range(3)])
            raise ConnectionError("source lost mid-pass")

        def close(self) -> None:
            pass

    stop = threading.Event()
    thread = threading.Thread(target=run, args=(Halfway(),), kwargs=dict(
        publisher=publisher, state=state, once=False, interval=0, metrics_host="127.0.0.1", metrics_port=port,
        stop=stop))  # fmt: skip
    thread.start()
    try:
        _wait(lambda: 'clearance_connector_events_published_total{connector="halfway"} 3.0' in _metrics(port))
    finally:
        stop.set()
        thread.join(30)
        publisher.close()
        state.close()


def _metrics(port: int) -> str:
    try:
        return _get(f"http://127.0.0.1:{port}/metrics")[1]
    except urllib.error.URLError:
        return ""


def test_the_state_store_reads_many_keys_at_once_none_for_those_not_stored(state_url: str) -> None:
    store = StateStore(state_url, "probe")
    try:
        store.put({"a": 1, "b": {"x": [2]}})
        assert store.get_many(["a", "b", "c"]) == {"a": 1, "b": {"x": [2]}, "c": None}
    finally:
        store.close()
