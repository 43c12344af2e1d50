"""``clearance connect folio``: bridge FOLIO's Kafka topics to the service's circulation topic."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime

import click
import structlog
from pydantic import TypeAdapter, ValidationError

from clearance.observability.logging import configure_logging
from clearance.settings import Settings
from connectors.folio.bridge import FolioBridge, resync
from connectors.folio.contract import BridgeConfig
from connectors.folio.source import FolioKafka, FolioSource, FolioTopics
from connectors.runtime import CommonOptions, Publisher, StateStore, common_options, launch
from schemas.registry import Topic
from schemas.types import Currency, Identifier

log = structlog.get_logger("clearance.connectors.folio")


def _checked(adapter: TypeAdapter, what: str) -> Callable[[click.Context, click.Parameter, str], str]:
    def check(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            raise click.BadParameter(f"{value!r} is not a valid {what}: {exc.errors()[0]['msg']}") from None

    return check


@click.command("folio")
@click.option(
    "--folio-bootstrap-servers",
    required=True,
    envvar="FOLIO_KAFKA_BOOTSTRAP_SERVERS",
    help="FOLIO's Kafka cluster (host:port[,host:port]); not the service's CLEARANCE_KAFKA_*.",
)
@click.option("--env", "folio_env", required=True, help="FOLIO's ENV, the first part of its topic names.")
@click.option("--tenant", required=True, help="FOLIO tenant id (e.g. diku).")
@click.option(
    "--library-id",
    required=True,
    callback=_checked(TypeAdapter(Identifier), "library id"),
    help="library_id of the events, and source urn:library:<id>.",
)
@click.option(
    "--student-id-field",
    type=click.Choice(["externalSystemId", "barcode", "username"]),
    default="externalSystemId",
    show_default=True,
    help="User field that holds the student number.",
)
@click.option(
    "--currency",
    default="IDR",
    show_default=True,
    callback=_checked(TypeAdapter(Currency), "currency"),
    help="ISO 4217 currency of the tenant's fee/fine amounts.",
)
@click.option(
    "--folio-group-id",
    default=None,
    help="Consumer group on FOLIO's cluster (default clearance-folio-bridge.<library-id>).",
)
@click.option(
    "--folio-security-protocol",
    type=click.Choice(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]),
    default="PLAINTEXT",
    show_default=True,
)
@click.option("--folio-sasl-mechanism", type=click.Choice(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]), default=None)
@click.option("--folio-sasl-username", default=None)
@click.option(
    "--folio-sasl-password",
    default=None,
    envvar="FOLIO_KAFKA_SASL_PASSWORD",
    help="Better given as FOLIO_KAFKA_SASL_PASSWORD; never logged.",
)
@click.option("--folio-ssl-cafile", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--folio-session-timeout-ms", type=click.IntRange(1000), default=10_000, show_default=True)
@click.option("--folio-heartbeat-interval-ms", type=click.IntRange(100), default=3_000, show_default=True)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=2000,
    show_default=True,
    help="FOLIO records per batch (one publish, one state write, one offset commit).",
)
@click.option("--resync", default=None, metavar="USER_ID|all",
              help="Catch up, then publish a library.patron.snapshot of what the bridge knows of one FOLIO "
                   "user (or of all), then exit.")  # fmt: skip
@common_options
def command(
    folio_bootstrap_servers: str,
    folio_env: str,
    tenant: str,
    library_id: str,
    student_id_field: str,
    currency: str,
    folio_group_id: str | None,
    folio_security_protocol: str,
    folio_sasl_mechanism: str | None,
    folio_sasl_username: str | None,
    folio_sasl_password: str | None,
    folio_ssl_cafile: str | None,
    folio_session_timeout_ms: int,
    folio_heartbeat_interval_ms: int,
    batch_size: int,
    resync: str | None,
    common: CommonOptions,
) -> None:
    """Bridge FOLIO's loan, user and fee/fine events into library.* events (SPEC §8).

    Reads {env}.{tenant}.circulation.loan, {env}.{tenant}.users.users and
    {env}.pub-sub.{tenant}.FEE_FINE_BALANCE_CHANGED.* on FOLIO's cluster; publishes to
    CLEARANCE_TOPIC_PREFIX + (--topic or library.circulation) on the service's cluster.
    FOLIO offsets are committed only after the service's broker acknowledged.
    """
    config = BridgeConfig(
        library_id=library_id, tenant=tenant, currency=currency,
        student_id_field=student_id_field,  # type: ignore[arg-type]
    )  # fmt: skip
    kafka = FolioKafka(
        bootstrap_servers=folio_bootstrap_servers,
        group_id=folio_group_id or f"clearance-folio-bridge.{library_id}",
        security_protocol=folio_security_protocol,  # type: ignore[arg-type]
        sasl_mechanism=folio_sasl_mechanism,
        sasl_username=folio_sasl_username,
        sasl_password=folio_sasl_password,
        ssl_cafile=folio_ssl_cafile,
        session_timeout_ms=folio_session_timeout_ms,
        heartbeat_interval_ms=folio_heartbeat_interval_ms,
    )
    secrets = [folio_sasl_password] if folio_sasl_password else []

    def make() -> FolioBridge:
        return FolioBridge(config, FolioSource(kafka, FolioTopics(folio_env, tenant)), batch_size=batch_size)

    if resync is None:
        launch(common, name="folio", family=Topic.CIRCULATION, make=make, secrets=secrets)
    sys.exit(_resync(common, make(), None if resync == "all" else resync, secrets))


def _resync(common: CommonOptions, bridge: FolioBridge, user: str | None, secrets: list[str]) -> int:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level, [*settings.secrets(), *secrets])
    publisher = Publisher(settings, common.deployed_topic(settings, Topic.CIRCULATION))
    state = StateStore(common.state_url_for("folio"), "folio")
    try:
        bridge.run_pass(publisher, state)
        resync(bridge.config, publisher, state, user, datetime.now(UTC))
        return 0
    except Exception as exc:  # the source or either broker down: said in one line, exit 1
        log.error("folio.resync_failed", error=repr(exc)[:300])
        return 1
    finally:
        bridge.close()
        publisher.close()
        state.close()
