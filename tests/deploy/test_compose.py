"""deploy/compose.yaml: valid for the Compose specification, wired to real settings, commands and topics.

No Docker engine runs here, so the stack is not started; deploy/README.md's first events are
checked against the contract and run through the real handler instead.
"""

from __future__ import annotations

import inspect
import re
import shlex
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import yaml
from validators import ROOT, check_cli_invocation, settings_names

from clearance.config.policy_file import load_policy
from clearance.service import Service
from clearance.services.batch import handle_batch
from clearance.services.results import Context
from clearance.signing.keys import KeyRing
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.migrate import upgrade
from clearance.store.unit_of_work import SqlUnitOfWork
from schemas.registry import Topic, parse_event
from schemas.topology import LAYOUT

COMPOSE = ROOT / "deploy" / "compose.yaml"
README = ROOT / "deploy" / "README.md"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_compose_file_is_valid_for_the_compose_specification() -> None:
    result = _check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_schema_check_does_catch_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text(encoding="utf-8").replace("    healthcheck:", "    helthcheck:", 1))
    result = _check_jsonschema(broken)
    assert result.returncode == 1
    assert "helthcheck" in result.stdout


def test_every_service_that_others_wait_for_has_a_health_check() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}, which has no check"
    assert {"kafka", "postgres", "clearance", "verify"} <= {n for n, s in services.items() if "healthcheck" in s}
    assert services["kafka-init"]["restart"] == "no"
    assert services["clearance"]["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"


def test_the_service_is_checked_on_its_readiness_endpoint_and_given_time_to_drain() -> None:
    clearance = _compose()["services"]["clearance"]
    port = clearance["environment"]["CLEARANCE_METRICS_PORT"]
    assert f"http://127.0.0.1:{port}/readyz" in " ".join(clearance["healthcheck"]["test"])
    assert f"{port}:{port}" in clearance["ports"]
    grace = int(clearance["stop_grace_period"].removesuffix("s"))
    assert grace > inspect.signature(Service.stop).parameters["timeout"].default


def test_every_clearance_variable_is_a_real_setting() -> None:
    known = settings_names()
    for name, service in _compose()["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("CLEARANCE_"):
                assert variable in known, f"{name}: {variable} is not a setting"


def test_the_trust_file_variable_the_stack_sets_is_a_real_setting() -> None:
    assert "CLEARANCE_TRUST_FILE" in settings_names()


def test_every_clearance_command_the_stack_runs_exists_with_its_options() -> None:
    services = _compose()["services"]
    for name in ("clearance", "verify"):
        assert services[name]["image"].startswith("graduation-clearance:")
        check_cli_invocation(services[name]["command"])
    assert services["verify"]["command"][0] == "serve"


def test_the_database_url_points_at_the_postgres_service_with_its_credentials() -> None:
    services = _compose()["services"]
    url = services["clearance"]["environment"]["CLEARANCE_DATABASE_URL"]
    postgres = services["postgres"]["environment"]
    assert url == (
        f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{postgres['POSTGRES_DB']}"
    )


def test_the_topic_initialiser_creates_every_topic_as_laid_out() -> None:
    script = _compose()["services"]["kafka-init"]["command"][0]
    created = {}
    for line in script.splitlines():
        if line.strip().startswith("create "):
            _create, name, partitions, retention = shlex.split(line)
            created[name] = (int(partitions), retention)
    shared = {name: layout for name, layout in created.items() if name in {t.value for t in Topic}}
    assert shared == {t.value: (LAYOUT[t].partitions, LAYOUT[t].config["retention.ms"]) for t in Topic}


def test_deploy_topics_yaml_says_what_the_layout_says() -> None:
    listed = yaml.safe_load((ROOT / "deploy" / "topics.yaml").read_text(encoding="utf-8"))["topics"]
    assert {t["name"]: (t["direction"], t["key"], t["partitions"], t["config"]) for t in listed} == {
        t.value: (LAYOUT[t].direction, LAYOUT[t].key, LAYOUT[t].partitions, LAYOUT[t].config) for t in Topic
    }


def test_the_mounted_policy_is_valid_and_starts_from_the_built_in_default() -> None:
    assert _compose()["configs"]["policy"]["file"] == "./policy.toml"
    mounted, built_in = load_policy(ROOT / "deploy" / "policy.toml"), load_policy(None)
    assert (mounted.default, mounted.faculties) == (built_in.default, built_in.faculties)


def _family(topic: str) -> Topic:
    """The contract topic of a per-producer topic (``library.circulation.central``) or of a shared one."""
    [family] = [t for t in Topic if topic == t.value or topic.startswith(f"{t.value}.")]
    return family


def _readme_records() -> list[tuple[Topic, bytes, bytes]]:
    """The key|value lines the README pipes into kafka-console-producer.sh (its ``produce``), with their topics."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"^produce \S+ \S+ (\S+) <<'EOF'\n(.*?)\nEOF", text, flags=re.S | re.M)
    records = []
    for topic, body in blocks:
        for line in body.splitlines():
            key, _, value = line.partition("|")
            records.append((_family(topic), key.encode(), value.encode()))
    return records


def test_the_readme_s_first_events_follow_the_contract_and_clear_the_student(tmp_path: Path) -> None:
    records = _readme_records()
    assert [t for t, _k, _v in records] == [
        Topic.CIRCULATION, Topic.DEPOSITS, Topic.DEPOSITS, Topic.APPLICATIONS,
    ]  # fmt: skip
    events = []
    for topic, key, value in records:
        event = parse_event(value, topic)
        assert key.decode() == event.envelope.subject, "the record key is the subject (SPEC §4.1)"
        events.append(event)
    url = f"sqlite:///{tmp_path / 'readme.db'}"
    upgrade(url)
    engine = make_engine(url)
    key = KeyRing(tmp_path / "keys").signing_key()
    policy = load_policy(ROOT / "deploy" / "policy.toml")
    applied_at = events[-1].envelope.time + timedelta(minutes=1)
    context = Context(policy=lambda: policy, signing_key=lambda: key, clock=lambda: applied_at, issuer="urn:x")
    with SqlUnitOfWork(make_session_factory(engine)) as uow:
        result = handle_batch(uow, events, [], context)
        uow.commit()
    engine.dispose()
    assert result.outcomes == {"cleared": 1} and len(result.issued) == 1


def test_the_public_verifier_mounts_no_signing_key_only_the_jwk_set() -> None:
    services = _compose()["services"]
    verify = services["verify"]
    assert not any(str(v).startswith("clearance-keys:") for v in verify.get("volumes", []))
    assert verify["environment"]["CLEARANCE_JWKS_FILE"].startswith("/var/lib/clearance/public/")
    check_cli_invocation(services["jwks"]["command"])
