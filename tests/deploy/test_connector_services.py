"""The connectors in deploy/: each runs a real command, as its producer, on a topic the trust file binds it to."""

from __future__ import annotations

import pytest
import yaml
from deploy.test_producer_trust import allowed, compose_acls, kubernetes_acls
from timeline import T0, as_event
from validators import ROOT, check_cli_invocation

from clearance.config.trust_file import load_trust
from clearance.demo.eventfactory import EventFactory

DEPLOY = ROOT / "deploy"


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def _compose_connectors() -> dict[str, tuple[list[str], str]]:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]
    return {
        name: (service["command"], service["environment"]["CLEARANCE_KAFKA_SASL_USERNAME"])
        for name, service in services.items()
        if name.startswith("connect-")
    }


def _kubernetes_connectors() -> dict[str, tuple[list[str], str]]:
    found = {}
    for document in yaml.safe_load_all((DEPLOY / "k8s" / "connectors.yaml").read_text(encoding="utf-8")):
        if document and document["kind"] == "Deployment":
            [container] = document["spec"]["template"]["spec"]["containers"]
            env = {e["name"]: e.get("value") for e in container["env"]}
            found[document["metadata"]["name"]] = (container["args"], env["CLEARANCE_KAFKA_SASL_USERNAME"])
    return found


DEPLOYMENTS = [("compose", _compose_connectors, compose_acls), ("kubernetes", _kubernetes_connectors, kubernetes_acls)]


def test_both_deployments_offer_the_three_connectors_as_optional_services() -> None:
    assert set(_compose_connectors()) == set(_kubernetes_connectors()) == {
        "connect-slims", "connect-folio", "connect-oai-pmh"
    }  # fmt: skip
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]
    assert all(services[name].get("profiles") == ["connectors"] for name in _compose_connectors())


@pytest.mark.parametrize(("where", "connectors", "acls"), DEPLOYMENTS, ids=[d[0] for d in DEPLOYMENTS])
def test_every_connector_runs_a_real_command_as_a_producer_allowed_to_write_its_topic(where, connectors, acls) -> None:
    granted = acls()
    for name, (args, user) in connectors().items():
        check_cli_invocation(args)
        topic = _option(args, "--topic")
        assert allowed(granted, f"User:{user}", "Write", "topic", topic), f"{where} {name}: {user} cannot write {topic}"


@pytest.mark.parametrize(("where", "connectors", "acls"), DEPLOYMENTS, ids=[d[0] for d in DEPLOYMENTS])
def test_what_each_connector_publishes_is_admitted_by_the_deployed_trust_file(where, connectors, acls) -> None:
    trust = load_trust(DEPLOY / "trust.toml")
    assert trust is not None
    for name, (args, _user) in connectors().items():
        topic = _option(args, "--topic")
        if args[1] == "oai-pmh":
            source = _option(args, "--source")
            event = EventFactory(source, lambda: T0).deposit_accepted("D1", "2019100123")
        else:
            library = _option(args, "--library-id")
            event = EventFactory(f"urn:library:{library}", lambda: T0).loan_returned(library, "L1", "P1", T0)
        assert trust.refusal(topic, as_event(event)) is None, f"{where} {name}: the trust file refuses it"
