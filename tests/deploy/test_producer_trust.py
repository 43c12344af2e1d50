"""Producer trust as deployed (SPEC §4.2 per-producer topics, G11, §7): users, ACLs, topics and the trust file.

The ACLs are read from both places they are granted — the Kafka initialiser of deploy/compose.yaml
(its kafka-acls.sh lines) and the Strimzi KafkaUsers of deploy/k8s/strimzi/kafkausers.yaml — and
evaluated the way Kafka's StandardAuthorizer does (allow rules, literal and prefixed patterns, the
operations that imply Describe). The trust file is parsed here as SPEC §7 defines it. No Docker
engine and no Kubernetes run here: the files are checked, not started.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass

import pytest
import yaml
from validators import ROOT, tool_missing

from clearance.config.trust_file import TrustFileError, load_trust, parse_trust
from clearance.domain.trust import TrustPolicy, glob_pattern
from schemas.registry import INBOUND_TOPICS, INBOUND_TYPES, Topic, parse_event
from schemas.topology import LAYOUT

DEPLOY = ROOT / "deploy"
TRUST = DEPLOY / "trust.toml"
SERVICE = "User:clearance"
REGISTRAR = "User:registrar"
OUTBOUND = [t.value for t in Topic if t not in INBOUND_TOPICS]


# -- the ACL model ------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Acl:
    principal: str
    operation: str  # Kafka's names: Read, Write, Describe, All ...
    resource: str  # topic, group, cluster, transactionalId
    pattern: str  # literal or prefix
    name: str


# Operations that imply Describe on the same resource (Kafka's AclAuthorizer and StandardAuthorizer).
_IMPLIES_DESCRIBE = {"Read", "Write", "Delete", "Alter"}


def allowed(acls: set[Acl], principal: str, operation: str, resource: str, name: str) -> bool:
    """Whether ``principal`` may ``operation`` the resource, by allow rules alone (none of ours deny)."""
    for acl in acls:
        if acl.principal not in (principal, "User:*") or acl.resource != resource:
            continue
        if acl.operation not in (operation, "All") and not (
            operation == "Describe" and acl.operation in _IMPLIES_DESCRIBE
        ):
            continue
        if acl.pattern == "literal" and acl.name in (name, "*"):
            return True
        if acl.pattern == "prefix" and name.startswith(acl.name):
            return True
    return False


def _strimzi_documents(name: str) -> list[dict]:
    text = (DEPLOY / "k8s" / "strimzi" / name).read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if d]


def kubernetes_acls() -> set[Acl]:
    """The ACLs the KafkaUsers grant (Strimzi makes the principal ``User:<metadata.name>`` for SCRAM users)."""
    found = set()
    for user in _strimzi_documents("kafkausers.yaml"):
        assert user["kind"] == "KafkaUser"
        for rule in user["spec"]["authorization"]["acls"]:
            assert rule.get("type", "allow") == "allow" and rule.get("host", "*") == "*"
            resource = rule["resource"]
            for operation in rule["operations"]:
                found.add(
                    Acl(f"User:{user['metadata']['name']}", operation, resource["type"],
                        resource.get("patternType", "literal"), resource.get("name", "kafka-cluster"))
                )  # fmt: skip
    return found


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def _init_lines(word: str) -> list[list[str]]:
    """The initialiser's calls of its shell function ``word``, split as the shell would (no prefix set)."""
    script = _compose()["services"]["kafka-init"]["command"][0]
    return [
        shlex.split(line.replace("$${PREFIX}", "").replace("$$", "$"))[1:]
        for line in script.splitlines()
        if line.strip().startswith(f"{word} ")
    ]


def compose_acls() -> set[Acl]:
    """The ACLs the compose initialiser adds, from its ``acl`` lines (kafka-acls.sh --add options)."""
    found = set()
    for args in _init_lines("acl"):
        options: dict[str, list[str]] = {}
        words = iter(args)
        for word in words:
            options.setdefault(word, []).append(next(words))
        assert set(options) <= {"--allow-principal", "--operation", "--topic", "--group", "--resource-pattern-type"}
        [principal] = options["--allow-principal"]
        [(resource, name)] = [(k.removeprefix("--"), v[0]) for k, v in options.items() if k in ("--topic", "--group")]
        pattern = {"literal": "literal", "prefixed": "prefix"}[options.get("--resource-pattern-type", ["literal"])[0]]
        found.update(Acl(principal, op, resource, pattern, name) for op in options["--operation"])
    return found


# -- the trust file, read by the service's own reader -----------------------------------------


def glob(pattern: str, text: str) -> bool:
    """A trust-file glob: ``*`` matches any run of characters, dots included; nothing else is special."""
    return re.fullmatch(glob_pattern(pattern), text) is not None


def admits(policy: TrustPolicy, topic: str, event: dict) -> bool:
    """Whether the service would believe ``event`` (a CloudEvent, completed to a valid one) on ``topic``."""
    complete = {"specversion": "1.0", "id": "probe", "time": "2026-11-20T09:00:00+07:00", "subject": "P1",
                **event}  # fmt: skip
    data = dict(complete.get("data", {}))
    if complete["type"] == "library.loan.returned":
        data = {"loan_id": "L1", "returned_at": "2026-11-20T09:00:00+07:00", **data}
    parsed = parse_event(json.dumps({**complete, "data": data}).encode())
    return policy.refusal(topic, parsed) is None


def family(topic: str) -> Topic:
    """The inbound topic a (per-producer) topic belongs to: ``library.circulation.central`` -> CIRCULATION."""
    [match] = [t for t in INBOUND_TOPICS if topic == t.value or topic.startswith(f"{t.value}.")]
    return match


def producer_of(topic: str) -> str | None:
    return topic.removeprefix(f"{family(topic).value}.") if topic != family(topic).value else None


_POLICY = load_trust(TRUST)
assert _POLICY is not None
RULES = _POLICY.rules
PRODUCER_TOPICS = sorted(r.topic for r in RULES if producer_of(r.topic) is not None)
PRODUCERS = sorted({f"User:{producer_of(t)}" for t in PRODUCER_TOPICS})


# -- checks of a model: each returns what is wrong, so that a widened ACL shows up ------------


def _probe_topics(acls: set[Acl]) -> set[str]:
    """Every topic a rule names, every contract topic, every per-producer topic, and names no rule names."""
    named = {a.name for a in acls if a.resource == "topic"}
    strangers = {f"{t.value}.someone-else" for t in INBOUND_TOPICS} | {"clearance.anything", "other.topic"}
    return named | {t.value for t in Topic} | set(PRODUCER_TOPICS) | strangers


def producer_violations(acls: set[Acl]) -> list[str]:
    """A producer that may write a topic not its own, or may not write its own."""
    wrong = []
    for principal in PRODUCERS:
        own = {t for t in PRODUCER_TOPICS if f"User:{producer_of(t)}" == principal}
        for topic in sorted(_probe_topics(acls)):
            if allowed(acls, principal, "Write", "topic", topic) != (topic in own):
                wrong.append(f"{principal} Write {topic}: {'allowed' if topic not in own else 'refused'}")
    return wrong


def outbound_violations(acls: set[Acl]) -> list[str]:
    """Anyone but the service who may write a clearance.* topic."""
    principals = {a.principal for a in acls} | set(PRODUCERS) | {REGISTRAR, "User:ANONYMOUS"}
    return [
        f"{principal} may write {topic}"
        for principal in sorted(principals - {SERVICE})
        for topic in [*OUTBOUND, "clearance.anything"]
        if allowed(acls, principal, "Write", "topic", topic)
    ]


def service_violations(acls: set[Acl]) -> list[str]:
    """An inbound topic (shared or trusted) or consumer group the service may not read; a topic it may write."""
    wrong = []
    for topic in sorted({t.value for t in INBOUND_TOPICS} | {r.topic for r in RULES}):
        if not allowed(acls, SERVICE, "Read", "topic", topic):
            wrong.append(f"the service may not read {topic}")
        if allowed(acls, SERVICE, "Write", "topic", topic):
            wrong.append(f"the service may write {topic}, as if it were its producer")
    for topic in INBOUND_TOPICS:
        group = f"graduation-clearance.{topic.value}"  # consumers/loop.py: <CLEARANCE_GROUP_ID>.<topic>
        if not allowed(acls, SERVICE, "Read", "group", group):
            wrong.append(f"the service may not join {group}")
    for topic in OUTBOUND:
        if not allowed(acls, SERVICE, "Write", "topic", topic):
            wrong.append(f"the service may not write {topic}")
    return wrong


# -- tests --------------------------------------------------------------------------


def test_compose_and_kubernetes_grant_exactly_the_same_acls() -> None:
    assert compose_acls() == kubernetes_acls()
    assert len(compose_acls()) > 0


def test_every_producer_writes_its_own_topics_and_no_other() -> None:
    assert PRODUCERS == ["User:central", "User:etd", "User:fk-teknik", "User:partner-ui", "User:registrar"]
    assert producer_violations(kubernetes_acls()) == []


def test_no_one_but_the_service_writes_the_clearance_topics() -> None:
    assert outbound_violations(kubernetes_acls()) == []


def test_the_service_reads_every_inbound_topic_the_trust_file_names_and_writes_only_its_own() -> None:
    assert service_violations(kubernetes_acls()) == []


def test_the_registrar_reads_decisions_but_not_the_dead_letters_of_others() -> None:
    acls = kubernetes_acls()
    for topic in ("clearance.certificates", "clearance.status"):
        assert allowed(acls, REGISTRAR, "Read", "topic", topic)
    assert not allowed(acls, REGISTRAR, "Read", "topic", "clearance.dead-letter")
    assert allowed(acls, REGISTRAR, "Read", "group", "registrar-console")
    assert not any(allowed(acls, REGISTRAR, "Read", "topic", t) for t in PRODUCER_TOPICS)


def test_no_acl_is_granted_to_everyone_on_everything_or_on_the_cluster() -> None:
    for acl in kubernetes_acls():
        assert acl.principal != "User:*" and acl.operation != "All" and acl.name != "*", acl
        assert acl.resource in ("topic", "group"), acl


@pytest.mark.parametrize(
    ("widened", "check"),
    [
        (Acl("User:central", "Write", "topic", "prefix", "library.circulation"), producer_violations),
        (Acl("User:fk-teknik", "Write", "topic", "literal", "library.circulation.central"), producer_violations),
        (Acl("User:etd", "All", "topic", "literal", "*"), producer_violations),
        (Acl("User:registrar", "Write", "topic", "prefix", "clearance."), outbound_violations),
        (Acl("User:*", "Write", "topic", "literal", "clearance.status"), outbound_violations),
        (Acl("User:clearance", "Write", "topic", "literal", "thesis.deposits.etd"), service_violations),
    ],
)
def test_a_widened_acl_is_caught(widened: Acl, check) -> None:
    assert check(kubernetes_acls() | {widened}) != []


def test_a_narrowed_acl_is_caught() -> None:
    acls = {a for a in kubernetes_acls() if not (a.principal == SERVICE and a.name == "thesis.deposits.etd")}
    assert service_violations(acls) == ["the service may not read thesis.deposits.etd"]


def test_every_principal_is_a_scram_sha_512_user_in_both_deployments() -> None:
    users = {f"User:{u['metadata']['name']}" for u in _strimzi_documents("kafkausers.yaml")}
    assert all(u["spec"]["authentication"] == {"type": "scram-sha-512"} for u in _strimzi_documents("kafkausers.yaml"))
    assert all(u["spec"]["authorization"]["type"] == "simple" for u in _strimzi_documents("kafkausers.yaml"))
    assert users == {a.principal for a in kubernetes_acls()} == {*PRODUCERS, SERVICE, REGISTRAR}
    created = {f"User:{name}": password for name, password in _init_lines("user")}
    assert set(created) == users
    environment = _compose()["services"]["kafka-init"]["environment"]
    for principal, password in created.items():
        variable = f"KAFKA_{principal.removeprefix('User:').upper().replace('-', '_')}_PASSWORD"
        assert password == f"${{{variable}}}", principal
        assert environment[variable].startswith(f"${{{variable}:?"), "a password comes from the environment, required"


def test_the_compose_broker_authenticates_with_scram_and_authorizes_with_acls() -> None:
    kafka = _compose()["services"]["kafka"]["environment"]
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert kafka["KAFKA_SUPER_USERS"] == "User:admin"
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    protocols = dict(item.split(":") for item in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(protocols.values()) == {"SASL_PLAINTEXT"}, "no listener without authentication"
    for listener in ("INTERNAL", "EXTERNAL"):
        assert kafka[f"KAFKA_LISTENER_NAME_{listener}_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    jaas = _compose()["configs"]["kafka-jaas"]["content"]
    # Only the admin exists for PLAIN; every other user is a SCRAM credential the initialiser made.
    assert re.findall(r"user_(\w+)=", jaas) == ["admin", "admin"]


def test_the_service_connects_as_its_own_scram_user_with_the_trust_file() -> None:
    services = _compose()["services"]
    environment = services["clearance"]["environment"]
    assert environment["CLEARANCE_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert environment["CLEARANCE_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert environment["CLEARANCE_KAFKA_SASL_USERNAME"] == "clearance"
    assert environment["CLEARANCE_KAFKA_SASL_PASSWORD"].startswith("${KAFKA_CLEARANCE_PASSWORD:?")
    assert environment["CLEARANCE_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    [mount] = [c for c in services["clearance"]["configs"] if c["source"] == "trust"]
    assert environment["CLEARANCE_TRUST_FILE"] == mount["target"]
    assert _compose()["configs"]["trust"]["file"] == "./trust.toml"
    assert "CLEARANCE_KAFKA_SASL_PASSWORD" not in services["verify"]["environment"], "serve needs no Kafka password"


def test_the_trust_file_has_the_shape_spec_7_gives() -> None:
    assert len(RULES) == 5
    for rule in RULES:
        assert "*" not in rule.topic, "one topic a rule: a glob would bind topics nobody granted"
        for event_type in rule.types:
            matched = [t for t in INBOUND_TYPES if glob(event_type, t)]
            assert matched, f"{rule.topic}: {event_type} matches no inbound type"
            assert {INBOUND_TYPES[t][0] for t in matched} == {family(rule.topic)}, f"{rule.topic}: {event_type}"
    with pytest.raises(TrustFileError, match="unknown key"):
        parse_trust('[[rule]]\ntopic = "thesis.deposits.etd"\nsources = ["x"]\ntypes = ["y"]\nlibrary_id = ["z"]\n')


def test_a_library_speaks_only_for_its_own_library_id() -> None:
    for rule in RULES:
        if any(glob(t, "library.loan.opened") for t in rule.types):
            assert rule.library_ids == (producer_of(rule.topic),), rule
            assert rule.sources == (f"urn:library:{producer_of(rule.topic)}",), rule


def test_a_producer_cannot_pass_for_another_library() -> None:
    forged = {"source": "urn:library:central", "type": "library.loan.returned", "data": {"library_id": "central"}}
    assert admits(_POLICY, "library.circulation.central", forged)
    assert not admits(_POLICY, "library.circulation.fk-teknik", forged)
    assert not admits(_POLICY, "library.circulation", forged), "the shared topics have no writer and no rule"
    own_source_other_library = {**forged, "source": "urn:library:fk-teknik", "data": {"library_id": "central"}}
    assert not admits(_POLICY, "library.circulation.fk-teknik", own_source_other_library)


def test_every_per_producer_topic_is_created_bound_and_laid_out_like_its_family() -> None:
    created = {name: (int(partitions), retention) for name, partitions, retention in _init_lines("create")}
    topics = {d["spec"]["topicName"]: d["spec"] for d in _strimzi_documents("producer-topics.yaml")}
    assert sorted(topics) == PRODUCER_TOPICS == sorted(set(created) - {t.value for t in Topic})
    for name in PRODUCER_TOPICS:
        layout = LAYOUT[family(name)]
        assert created[name] == (layout.partitions, layout.config["retention.ms"])
        assert topics[name]["partitions"] == layout.partitions
        assert str(topics[name]["config"]["retention.ms"]) == layout.config["retention.ms"]


# -- the README's first events: published by their producers, admitted by the trust file ----


def readme_records() -> list[tuple[str, str, bytes, dict]]:
    """(user, topic, key, event) of every record deploy/README.md publishes with its ``produce`` helper."""
    import json

    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    records = []
    for user, topic, body in re.findall(r"^produce (\S+) \S+ (\S+) <<'EOF'\n(.*?)\nEOF", text, flags=re.S | re.M):
        for line in body.splitlines():
            key, _, value = line.partition("|")
            records.append((user, topic, key.encode(), json.loads(value)))
    return records


def test_the_readme_publishes_each_event_as_a_producer_allowed_to_and_the_trust_file_admits_it() -> None:
    records = readme_records()
    assert len(records) == 4
    acls = kubernetes_acls()
    for user, topic, _key, event in records:
        assert allowed(acls, f"User:{user}", "Write", "topic", topic), f"{user} may not write {topic}"
        refused = f"the trust file refuses {event['type']} from {event['source']} on {topic}"
        assert admits(_POLICY, topic, event), refused


def test_the_readme_reads_the_decisions_as_the_registrar_may() -> None:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    [(user, group, topics)] = re.findall(r"^consume (\S+) \S+ (\S+) ([\w. -]+?)$", text, flags=re.M)
    acls = kubernetes_acls()
    assert allowed(acls, f"User:{user}", "Read", "group", group)
    for topic in topics.split():
        assert allowed(acls, f"User:{user}", "Read", "topic", topic)


def test_the_trust_file_is_the_one_kubernetes_mounts() -> None:
    configmaps = [
        d for d in yaml.safe_load_all((DEPLOY / "k8s" / "configmap.yaml").read_text(encoding="utf-8"))
        if d and d["metadata"]["name"] == "clearance-trust"
    ]  # fmt: skip
    [configmap] = configmaps
    assert configmap["data"]["trust.toml"] == TRUST.read_text(encoding="utf-8")


# -- the compose broker's SASL wiring, checked with the JDK's own JAAS parser ------------------

_JAAS_READER = """
import javax.security.auth.login.AppConfigurationEntry;
import javax.security.auth.login.Configuration;
import java.nio.file.Path;

public class JaasRead {
    public static void main(String[] args) throws Exception {
        Configuration config = Configuration.getInstance(
            "JavaLoginConfig", new java.security.URIParameter(Path.of(args[0]).toUri()));
        for (int i = 1; i < args.length; i++) {
            AppConfigurationEntry[] entries = config.getAppConfigurationEntry(args[i]);
            for (AppConfigurationEntry entry : entries == null ? new AppConfigurationEntry[0] : entries) {
                System.out.println(args[i] + " " + entry.getLoginModuleName() + " "
                    + new java.util.TreeMap<>(entry.getOptions()).keySet());
            }
        }
    }
}
"""

_LOGIN_MODULES = {
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
}


def _interpolated(text: str) -> str:
    """Compose's interpolation of the required password variables, with a stand-in value."""
    return re.sub(r"\$\{(KAFKA_\w+_PASSWORD):\?[^}]*\}", "s3cret0", text)


def _jaas_sections(tmp_path, content: str, sections: list[str]) -> dict[str, list[tuple[str, str]]]:
    if shutil.which("java") is None:
        tool_missing("java is not on PATH (Debian: apt-get install default-jre-headless)")
    (tmp_path / "JaasRead.java").write_text(_JAAS_READER, encoding="utf-8")
    (tmp_path / "jaas.conf").write_text(content, encoding="utf-8")
    result = subprocess.run(
        ["java", str(tmp_path / "JaasRead.java"), str(tmp_path / "jaas.conf"), *sections],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found: dict[str, list[tuple[str, str]]] = {s: [] for s in sections}
    for line in result.stdout.splitlines():
        section, module, options = line.split(" ", 2)
        found[section].append((module, options))
    return found


def test_every_compose_listener_has_the_login_module_of_its_mechanism(tmp_path) -> None:
    kafka = _compose()["services"]["kafka"]["environment"]
    listeners = [item.split("://")[0] for item in kafka["KAFKA_LISTENERS"].split(",")]
    mechanisms = {name: kafka[f"KAFKA_LISTENER_NAME_{name}_SASL_ENABLED_MECHANISMS"] for name in listeners}
    assert kafka["KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL"] == mechanisms[kafka["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    assert kafka["KAFKA_SASL_MECHANISM_CONTROLLER_PROTOCOL"] == mechanisms[kafka["KAFKA_CONTROLLER_LISTENER_NAMES"]]
    sections = [f"{name.lower()}.KafkaServer" for name in listeners]
    jaas = _jaas_sections(tmp_path, _interpolated(_compose()["configs"]["kafka-jaas"]["content"]), sections)
    for name in listeners:
        [(module, options)] = jaas[f"{name.lower()}.KafkaServer"]
        assert module == _LOGIN_MODULES[mechanisms[name]], name
        if mechanisms[name] == "PLAIN":
            assert options == "[password, user_admin, username]", name  # the admin, and no one else
    assert kafka["KAFKA_OPTS"] == "-Djava.security.auth.login.config=/etc/kafka/kafka_server_jaas.conf"
    [mount] = [c for c in _compose()["services"]["kafka"]["configs"] if c["source"] == "kafka-jaas"]
    assert mount["target"] == "/etc/kafka/kafka_server_jaas.conf"


def test_the_admin_client_settings_log_in_over_the_admin_listener(tmp_path) -> None:
    properties = dict(
        line.split("=", 1)
        for line in _interpolated(_compose()["configs"]["kafka-admin-client"]["content"]).splitlines()
        if line.strip()
    )
    kafka = _compose()["services"]["kafka"]["environment"]
    assert properties["sasl.mechanism"] == kafka["KAFKA_LISTENER_NAME_ADMIN_SASL_ENABLED_MECHANISMS"]
    assert properties["security.protocol"] == "SASL_PLAINTEXT"
    jaas = _jaas_sections(tmp_path, f"KafkaClient {{\n  {properties['sasl.jaas.config']}\n}};\n", ["KafkaClient"])
    assert jaas["KafkaClient"] == [(_LOGIN_MODULES["PLAIN"], "[password, username]")]
    assert "ADMIN://kafka:9094" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    assert (
        "--bootstrap-server kafka:9094 --command-config /etc/kafka/admin.properties"
        in (_compose()["services"]["kafka-init"]["command"][0])
    )
