"""Settings from the environment (``CLEARANCE_`` prefix) and ``.env``."""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from schemas.registry import Topic


class Settings(BaseSettings):
    """Everything the service is configured by. Every field is ``CLEARANCE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CLEARANCE_", env_file=".env", extra="ignore")

    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    database_url: str = "sqlite:///clearance.db"
    topic_prefix: str = ""
    policy_file: Path | None = None
    # G11: who may say what (docs/contract.md#trust-file); without one the service runs open.
    trust_file: Path | None = None
    key_dir: Path = Path("./keys")
    group_id: str = "graduation-clearance"
    issuer: str = "urn:library:central"
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    timezone: str = "Asia/Jakarta"
    # Printed on the PDF certificate and the verification page; the QR code opens VERIFY_BASE_URL/c/<number>.
    university_name: str = "Universitas Nusantara"
    library_name: str = "UPT Perpustakaan"
    verify_base_url: str = "http://localhost:8000"

    topic_partitions: int = Field(default=6, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    create_topics: bool = True

    batch_max_records: int = Field(default=500, ge=1, le=100_000)
    poll_timeout_ms: int = Field(default=500, ge=1)
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1000)
    kafka_heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    kafka_max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    # How long the broker may hold a fetch that finds nothing new. Apache Kafka answers as soon as
    # data arrives; Tansu (the embedded broker) holds it the whole time, so this bounds the wait.
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=0, le=10_000)
    # How often clients refresh topic metadata: a per-producer topic created later is consumed within this.
    kafka_metadata_max_age_ms: int = Field(default=30_000, ge=1000)
    retry_initial_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=30.0, gt=0)
    relay_batch_size: int = Field(default=500, ge=1)
    # How long the relay waits for the doorbell before it looks at the outbox anyway: rows this
    # instance commits ring it at once; rows another process wrote are published at most this late.
    relay_idle_seconds: float = Field(default=0.5, gt=0)
    freshness_max_wait_seconds: float = Field(default=60.0, ge=0)
    freshness_sweep_seconds: float = Field(default=0.1, gt=0)
    position_report_seconds: float = Field(default=1.0, gt=0)
    # Published outbox rows and inbox ids older than this are pruned; keep it longer
    # than the inbound topics' retention so that no record still in Kafka loses its inbox id.
    retention_days: float = Field(default=35.0, gt=0)
    prune_interval_seconds: float = Field(default=3600.0, gt=0)
    # G12: an inbound record larger than this (key and value) is dead-lettered as too-large; nothing
    # the service publishes is larger than max_message_bytes (the producer's max_request_size).
    max_record_bytes: int = Field(default=1_048_576, ge=1024)
    max_message_bytes: int = Field(default=1_048_576, ge=65_536)
    # G12: a timestamp later than now plus this is refused as time-in-future.
    clock_skew_seconds: float = Field(default=300.0, ge=0)
    # Prometheus metrics and the /livez and /readyz checks; 0 turns the endpoint off.
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"

    # public verifier
    # The JWK Set `clearance serve` verifies against (`clearance keys jwks -o FILE`). Unset, serve
    # derives the public keys from the private keys in KEY_DIR (one machine only, e.g. the demo).
    jwks_file: Path | None = None
    # Bits in the credentials' Bitstring Status List: at least 131,072 (16 KiB), as the W3C spec asks.
    status_list_bits: int = Field(default=131_072, ge=131_072, le=16 * 131_072)
    # How often the running service re-signs a status list whose revocations changed.
    status_list_seconds: float = Field(default=10.0, gt=0)

    def __repr_args__(self) -> Any:
        # The repr (and so any traceback or log line holding Settings) never shows the database password.
        for name, value in super().__repr_args__():
            if name == "database_url" and isinstance(value, str):
                try:
                    value = make_url(value).render_as_string(hide_password=True)
                except ArgumentError:
                    value = "<unparseable database url>"
            yield name, value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    def topic(self, topic: Topic) -> str:
        """The deployed name of a logical topic."""
        return f"{self.topic_prefix}{topic.value}"

    def stream(self, name: str) -> str | None:
        """A deployed topic name without the prefix (``library.circulation.fk-teknik``); None if not ours."""
        return name[len(self.topic_prefix) :] if name.startswith(self.topic_prefix) else None

    def logical_topic(self, name: str) -> Topic | None:
        """The logical topic a deployed name stands for."""
        if not name.startswith(self.topic_prefix):
            return None
        try:
            return Topic(name[len(self.topic_prefix) :])
        except ValueError:
            return None

    def now(self) -> datetime:
        """The current time in the service's time zone."""
        return datetime.now(_zone(self.timezone))

    def kafka_client_options(self) -> dict[str, object]:
        """Options every Kafka client of the service shares, security included (kafka-python's names)."""
        options: dict[str, object] = {
            "bootstrap_servers": self.kafka_bootstrap_servers.split(","),
            "client_id": "graduation-clearance",
            "security_protocol": self.kafka_security_protocol,
            "metadata_max_age_ms": self.kafka_metadata_max_age_ms,
        }
        if self.kafka_security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.kafka_sasl_mechanism or "PLAIN"
            options["sasl_plain_username"] = self.kafka_sasl_username
            if self.kafka_sasl_password is not None:
                options["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        if self.kafka_ssl_cafile is not None:
            options["ssl_cafile"] = str(self.kafka_ssl_cafile)
        return options

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line."""
        found = []
        if self.kafka_sasl_password is not None:
            found.append(self.kafka_sasl_password.get_secret_value())
        database_password = make_url(self.database_url).password
        if database_password:
            found.append(str(database_password))
        return [s for s in found if s]


@functools.lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    # Building a ZoneInfo on every reading of the clock was 2.5% of the service's time deciding.
    return ZoneInfo(name)
