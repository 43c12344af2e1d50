"""deploy/k8s/: valid for Kubernetes (kubernetes-validate) and Strimzi's CRD, and wired the way the service works."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
from importlib import metadata
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from validators import ROOT, check_cli_invocation, node_tool, run, settings_names

from clearance.config.policy_file import parse_policy
from clearance.service import Service
from clearance.signing.keys import KeyRing
from schemas.registry import Topic
from schemas.topology import LAYOUT, max_useful_instances

K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSIONS = ("1.30", "1.37")


def _documents(*patterns: str) -> list[tuple[Path, dict]]:
    found = []
    for pattern in patterns:
        for path in sorted(K8S.glob(pattern)):
            found.extend((path, doc) for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc)
    return found


def _one(kind: str, name: str) -> dict:
    [doc] = [d for _p, d in _documents("*.yaml") if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _containers(deployment: dict) -> list[dict]:
    spec = deployment["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_kubernetes_manifest_is_valid_for_kubernetes(version: str) -> None:
    documents = _documents("*.yaml", "examples/*.yaml")
    assert {d["kind"] for _p, d in documents} >= {
        "Deployment", "ConfigMap", "Secret", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
    }  # fmt: skip
    for path, document in documents:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name} {document['kind']}/{document['metadata']['name']}: {exc.message} at {exc.path}")


def test_strict_validation_does_catch_a_misspelt_field() -> None:
    deployment = _one("Deployment", "clearance")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"tcpSocket": {"port": 9464}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def _strimzi(tmp_path: Path, documents: list[dict]) -> subprocess.CompletedProcess[str]:
    command = node_tool("strimzi", "@kubernetes-models/strimzi-kafka-operator")
    path = tmp_path / "resources.json"
    path.write_text(json.dumps(documents), encoding="utf-8")
    return run([*command, str(path)])


def test_every_strimzi_resource_is_valid_for_strimzi_s_crd(tmp_path: Path) -> None:
    resources = [d for _p, d in _documents("strimzi/*.yaml")]
    assert {d["kind"] for d in resources} == {"KafkaTopic", "KafkaUser"}
    result = _strimzi(tmp_path, resources)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(resources)} valid, 0 invalid" in result.stdout


def test_every_acl_rule_shape_the_users_use_is_valid_on_its_own(tmp_path: Path) -> None:
    users = [d for _p, d in _documents("strimzi/kafkausers.yaml")]
    shapes = {}
    for user in users:
        for rule in user["spec"]["authorization"]["acls"]:
            resource = rule["resource"]
            shapes[(resource["type"], resource.get("patternType", "literal"), tuple(rule["operations"]))] = rule
    assert {(t, p) for t, p, _ops in shapes} == {("topic", "literal"), ("topic", "prefix"), ("group", "prefix")}
    single = [
        {**users[0], "metadata": {**users[0]["metadata"], "name": f"shape-{i}"},
         "spec": {**users[0]["spec"], "authorization": {"type": "simple", "acls": [rule]}}}
        for i, rule in enumerate(shapes.values())
    ]  # fmt: skip
    result = _strimzi(tmp_path, single)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(single)} valid, 0 invalid" in result.stdout


def test_strimzi_s_crd_schema_does_reject_a_misspelt_acl_operation(tmp_path: Path) -> None:
    [user, *_] = [d for _p, d in _documents("strimzi/kafkausers.yaml")]
    user["spec"]["authorization"]["acls"][0]["operations"] = ["Writ"]
    result = _strimzi(tmp_path, [user])
    assert result.returncode == 1
    assert "INVALID KafkaUser/" in result.stdout


def test_strimzi_s_crd_schema_does_reject_a_broken_topic(tmp_path: Path) -> None:
    [topic, *_] = [d for _p, d in _documents("strimzi/*.yaml")]
    topic["spec"]["partitions"] = 0
    result = _strimzi(tmp_path, [topic])
    assert result.returncode == 1
    assert "partitions must be >= 1" in result.stdout


def test_the_kafka_topics_are_laid_out_as_the_contract_says() -> None:
    topics = {d["spec"]["topicName"]: d for _p, d in _documents("strimzi/kafkatopics.yaml")}
    assert set(topics) == {t.value for t in Topic}
    for topic in Topic:
        spec = topics[topic.value]["spec"]
        assert spec["partitions"] == LAYOUT[topic].partitions
        assert str(spec["config"]["retention.ms"]) == LAYOUT[topic].config["retention.ms"]
        assert spec["config"]["cleanup.policy"] == LAYOUT[topic].config["cleanup.policy"]
        assert "strimzi.io/cluster" in topics[topic.value]["metadata"]["labels"]


def test_the_autoscaler_stops_at_the_partition_count_of_the_busiest_inbound_topic() -> None:
    hpa = _one("HorizontalPodAutoscaler", "clearance")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "clearance"}
    assert hpa["spec"]["maxReplicas"] == max_useful_instances() == LAYOUT[Topic.CIRCULATION].partitions
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_the_service_probes_liveness_and_readiness_on_its_metrics_port() -> None:
    deployment = _one("Deployment", "clearance")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    port = int(_one("ConfigMap", "clearance-config")["data"]["CLEARANCE_METRICS_PORT"])
    assert {"name": "metrics", "containerPort": port} in container["ports"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
    assert container["startupProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)


def test_termination_grace_outlasts_a_batch_and_the_shutdown_joins() -> None:
    grace = _one("Deployment", "clearance")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    join_timeout = inspect.signature(Service.stop).parameters["timeout"].default
    assert grace > 2 * join_timeout


def test_every_container_asks_for_resources_and_runs_restricted() -> None:
    for name in ("clearance", "clearance-verify"):
        deployment = _one("Deployment", name)
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
        for container in _containers(deployment):
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), container["name"]
            assert "memory" in container["resources"]["limits"], container["name"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["image"] == f"graduation-clearance:{metadata.version('graduation-clearance')}"


def test_migrations_run_before_the_service_which_then_skips_them() -> None:
    deployment = _one("Deployment", "clearance")
    init = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["initContainers"]}
    assert init["migrate"]["args"] == ["db", "upgrade"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][0] == "run" and "--no-migrate" in container["args"]
    for name in ("clearance", "clearance-verify"):
        for c in _containers(_one("Deployment", name)):
            if "args" in c:
                check_cli_invocation(c["args"])


def test_the_public_verifier_neither_migrates_nor_holds_a_signing_key() -> None:
    deployment = _one("Deployment", "clearance-verify")
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["args"][0] == "serve" and "--no-migrate" in container["args"]
    assert not spec.get("initContainers"), "a read-only role cannot migrate, and the verifier copies no key"
    secrets = {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    assert "clearance-signing-key" not in secrets


def test_every_clearance_variable_is_a_real_setting_and_the_database_url_comes_from_a_secret() -> None:
    known = settings_names()
    assert set(_one("ConfigMap", "clearance-config")["data"]) <= known
    for name in ("clearance", "clearance-verify"):
        for container in _containers(_one("Deployment", name)):
            for variable in container.get("env", []):
                assert variable["name"] in known
                if variable["name"] == "CLEARANCE_DATABASE_URL":
                    # The verifier reads the register with a read-only role of its own.
                    secret = "clearance-database" if name == "clearance" else "clearance-database-verify"
                    assert variable["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "url"}


def test_the_policy_config_map_is_a_valid_policy_identical_to_the_compose_one() -> None:
    data = _one("ConfigMap", "clearance-policy")["data"]
    assert data["policy.toml"] == (ROOT / "deploy" / "policy.toml").read_text(encoding="utf-8")
    parse_policy(data["policy.toml"])
    config = _one("ConfigMap", "clearance-config")["data"]
    [mount] = [
        m for m in _one("Deployment", "clearance")["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        if m["name"] == "policy"
    ]  # fmt: skip
    assert config["CLEARANCE_POLICY_FILE"] == f"{mount['mountPath']}/policy.toml"


def test_the_service_connects_as_its_kafka_user_over_tls_with_the_mounted_trust_file() -> None:
    config = _one("ConfigMap", "clearance-config")["data"]
    assert config["CLEARANCE_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["CLEARANCE_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    users = {d["metadata"]["name"] for _p, d in _documents("strimzi/kafkausers.yaml")}
    assert config["CLEARANCE_KAFKA_SASL_USERNAME"] in users
    pod = _one("Deployment", "clearance")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    [password] = [v for v in container["env"] if v["name"] == "CLEARANCE_KAFKA_SASL_PASSWORD"]
    # Strimzi's User Operator keeps a SCRAM user's password in a Secret named after the user.
    assert password["valueFrom"]["secretKeyRef"] == {"name": config["CLEARANCE_KAFKA_SASL_USERNAME"], "key": "password"}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    # Files only this container mounts are named only in its environment, not in the shared ConfigMap.
    env = {v["name"]: v.get("value") for v in container["env"]}
    assert {"CLEARANCE_TRUST_FILE", "CLEARANCE_KAFKA_SSL_CAFILE"}.isdisjoint(config)
    assert env["CLEARANCE_TRUST_FILE"] == f"{mounts['trust']}/trust.toml"
    assert volumes["trust"]["configMap"]["name"] == "clearance-trust"
    assert env["CLEARANCE_KAFKA_SSL_CAFILE"] == f"{mounts['kafka-ca']}/ca.crt"
    assert volumes["kafka-ca"]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]


def test_the_services_select_the_pods_and_their_named_ports() -> None:
    deployments = [_one("Deployment", "clearance"), _one("Deployment", "clearance-verify")]
    for service_name in ("clearance-metrics", "clearance-verify"):
        service = _one("Service", service_name)
        selector = service["spec"]["selector"].items()
        selected = [d for d in deployments if selector <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(selected) == 1, service_name
        port_names = {p["name"] for c in selected[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    assert _one("Service", "clearance-metrics")["spec"]["publishNotReadyAddresses"] is True


# -- the signing key init container ---------------------------------------------


def _key_script(deployment: str) -> str:
    init = {c["name"]: c for c in _one("Deployment", deployment)["spec"]["template"]["spec"]["initContainers"]}
    assert init["signing-key"]["command"][:2] == ["/bin/sh", "-ec"]
    return init["signing-key"]["command"][2]


def _secret_volume(root: Path, files: dict[str, bytes]) -> Path:
    """A directory laid out as the kubelet mounts a Secret: ``..data`` and a symlink per key, group-readable."""
    secret = root / "secret"
    data = secret / "..2026_11_24_00_00_00.000000001"
    data.mkdir(parents=True)
    for name, content in files.items():
        (data / name).write_bytes(content)
        (data / name).chmod(0o440)
    (secret / "..data").symlink_to(data.name)
    for name in files:
        (secret / name).symlink_to(f"..data/{name}")
    return secret


def _run_key_script(tmp_path: Path, secret: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    keys = tmp_path / "keys"
    keys.mkdir()
    script = _key_script("clearance").replace("/secrets/signing-key", str(secret))
    script = script.replace("/var/lib/clearance/keys", str(keys))
    return subprocess.run(["/bin/sh", "-ec", script], capture_output=True, text=True, timeout=30), keys


def test_the_key_init_container_gives_the_service_keys_it_accepts(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "generated")
    key = ring.generate("2026-1")
    ring.generate("2026-2")
    files = {p.name: p.read_bytes() for p in (tmp_path / "generated").glob("*.pem")}
    secret = _secret_volume(tmp_path, {**files, "current": b"2026-1"})
    result, keys = _run_key_script(tmp_path, secret)
    assert result.returncode == 0, result.stderr
    copied = KeyRing(keys / "ring")
    copied.check_permissions()  # the service refuses keys others can read
    assert copied.signing_key(create=False).key_id == key.key_id == "2026-1"
    assert sorted(copied.key_ids()) == ["2026-1", "2026-2"]
    assert all(os.stat(p).st_mode & 0o777 == 0o600 for p in (keys / "ring").glob("*.pem"))
    assert os.stat(keys / "ring").st_mode & 0o777 == 0o700


def test_the_key_init_container_refuses_the_placeholder_secret(tmp_path: Path) -> None:
    [example] = [d for _p, d in _documents("examples/secret.yaml") if d["metadata"]["name"] == "clearance-signing-key"]
    secret = _secret_volume(tmp_path, {k: v.encode() for k, v in example["stringData"].items()})
    result, keys = _run_key_script(tmp_path, secret)
    assert result.returncode == 1
    assert "is not a PKCS#8 PEM private key" in result.stderr
    assert list((keys / "ring").iterdir()) == []


def test_the_key_init_container_refuses_a_secret_without_keys(tmp_path: Path) -> None:
    result, _keys = _run_key_script(tmp_path, _secret_volume(tmp_path, {"current": b"2026-1"}))
    assert result.returncode == 1
    assert "holds no <key_id>.pem" in result.stderr
