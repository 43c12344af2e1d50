"""Every sub-command of ``clearance``, in every state an operator meets, ends in one line or works: no traceback.

The sub-commands are found in the click group itself (recursively), so a new one is tried without
anyone adding it here; one that needs an argument this file has no sample for fails until it gets one.
Each runs in its own process (``cli_process``) with a broker address nobody listens on, against
each state below; the test id names the command and the state.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from cli.cli_process import Outcome, invoke

from clearance.cli.main import main
from clearance.store.migrate import upgrade

PASSWORD = "s3cret-pw-9f2c"
# Commands that serve until stopped: they may still be running when their time is up, and must then
# stop cleanly on SIGTERM. Every other command must finish by itself.
SERVERS = {"run", "serve"}
# The commands that may create a database (they migrate it); the others must leave none behind.
CREATORS = {"run", "db upgrade", "serve", "demo"}
SERVER_SECONDS = 5.0
COMMAND_SECONDS = 90.0

# A value for every required parameter, by name; extra options that keep a command small and quick.
SAMPLES = {
    "number": "BP/2026-2/0000001",
    "student_id": "2019100123",
    "key_id": "2026-1",
    "file": "certificate.json",
    "directory": "schemas-out",
    "output": "letter.pdf",
    # The connectors' sources: addresses nobody answers on (a pass fails, the command says so and exits 1).
    "dsn": "mysql+pymysql://reader:secret@127.0.0.1:9/slims",
    "url": "http://127.0.0.1:9/oai/request",
    "folio_bootstrap_servers": "127.0.0.1:9",
    "folio_env": "folio",
    "metadata_prefix": "oai_dc",
    "tenant": "diku",
    "library_id": "central",
    "student_id_field": "description",
}
# A connector reads no database of the service's, no policy and no key: of the states below, only these
# concern it (and its unreachable broker and source cost seconds each).
CONNECTOR_STATES = {"no-database-file", "bad-option-value"}
QUICK = {
    "demo": {"--students": "3", "--timeout": "30", "--out": "demo-out"},
    "status": {"--timeout": "1"},
    "serve": {"--port": "0"},
    **{f"connect {name}": {"--metrics-port": "0"} for name in ("slims", "folio", "oai-pmh")},
}


def _leaves(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    for name in sorted(group.commands):
        command = group.commands[name]
        if isinstance(command, click.Group):
            yield from _leaves(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), command


COMMANDS = dict(_leaves(main))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Call:
    """One invocation being put together: where, with what environment, with which values."""

    name: str
    command: click.Command
    cwd: Path
    env: dict[str, str]
    values: dict[click.Parameter, str]
    extra: list[str]
    template: Path  # a migrated, empty SQLite database to copy

    def args(self) -> list[str]:
        words = self.name.split()
        arguments = [p for p in self.command.params if isinstance(p, click.Argument)]
        for param, value in self.values.items():
            if isinstance(param, click.Option):
                words += [param.opts[0], value]
        words += self.extra
        words += [self.values[p] for p in arguments if p in self.values]
        return words


def _call(name: str, cwd: Path, env: dict[str, str], template: Path) -> Call:
    command = COMMANDS[name]
    values: dict[click.Parameter, str] = {}
    for param in command.params:
        if isinstance(param, click.Option) and param.opts[0] in QUICK.get(name, {}):
            values[param] = QUICK[name][param.opts[0]]
        elif param.required:
            assert param.name in SAMPLES, f"`clearance {name}` needs {param.name}: give it a sample value in SAMPLES"
            values[param] = SAMPLES[param.name]
    extra = ["--once"] if name.startswith("connect ") else []
    return Call(name, command, cwd, env, values, extra, template)


def _migrated(call: Call) -> None:
    shutil.copy(call.template, call.cwd / "store.db")
    call.env["CLEARANCE_DATABASE_URL"] = f"sqlite:///{call.cwd / 'store.db'}"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "store.db"
    upgrade(f"sqlite:///{path}")
    return path


# --- the states -----------------------------------------------------------------------------------------


def no_database_file(call: Call) -> None:
    """Nothing has run here: no CLEARANCE_DATABASE_URL, no ./clearance.db, no demo folder."""


def empty_database(call: Call) -> None:
    """CLEARANCE_DATABASE_URL names a SQLite file with no tables."""
    (call.cwd / "empty.db").write_bytes(b"")
    call.env["CLEARANCE_DATABASE_URL"] = f"sqlite:///{call.cwd / 'empty.db'}"


def unreachable_postgresql(call: Call) -> None:
    """CLEARANCE_DATABASE_URL names a PostgreSQL nobody runs, with a password that must never be printed."""
    call.env["CLEARANCE_DATABASE_URL"] = f"postgresql://clearance:{PASSWORD}@127.0.0.1:{_closed_port()}/clearance"


def bad_policy_file(call: Call) -> None:
    """CLEARANCE_POLICY_FILE is not TOML."""
    _migrated(call)
    (call.cwd / "policy.toml").write_text("[default\nmax_fine = \n", encoding="utf-8")
    call.env["CLEARANCE_POLICY_FILE"] = str(call.cwd / "policy.toml")


def missing_policy_file(call: Call) -> None:
    """CLEARANCE_POLICY_FILE names no file."""
    _migrated(call)
    call.env["CLEARANCE_POLICY_FILE"] = str(call.cwd / "nowhere" / "policy.toml")


def unreadable_key_dir(call: Call) -> None:
    """CLEARANCE_KEY_DIR is a file, not a directory (the tests run as root, whom no mode keeps out)."""
    _migrated(call)
    (call.cwd / "keys").write_text("not a directory\n", encoding="utf-8")
    call.env["CLEARANCE_KEY_DIR"] = str(call.cwd / "keys")


def unreadable_key_file(call: Call) -> None:
    """CLEARANCE_KEY_DIR holds a key file that is not a key, and names it as the signing key."""
    _migrated(call)
    keys = call.cwd / "keys"
    keys.mkdir(mode=0o700)
    (keys / "2026-1.pem").write_text("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n")
    (keys / "2026-1.pem").chmod(0o600)
    (keys / "current").write_text("2026-1\n")
    call.env["CLEARANCE_KEY_DIR"] = str(keys)


def bad_option_value(call: Call) -> None:
    """An option gets a value it cannot take (a typed one first, e.g. --since yesterday); or an unknown option."""
    _migrated(call)
    options = [p for p in call.command.params if isinstance(p, click.Option) and not p.is_flag]
    typed = [p for p in options if p.type.name not in ("text", "file", "path", "directory")]
    chosen = (typed or options)[:1]
    if chosen:
        call.values[chosen[0]] = "yesterday!"
    else:
        call.extra.append("--no-such-option")


def missing_input_file(call: Call) -> None:
    """Every path the command takes lies under a regular file: an input is missing, an output cannot be written."""
    _migrated(call)
    (call.cwd / "a-file").write_text("", encoding="utf-8")
    for param in call.command.params:
        if isinstance(param.type, click.Path | click.File):
            call.values[param] = str(call.cwd / "a-file" / "missing" / "x.json")


def _has_path(command: click.Command) -> bool:
    return any(isinstance(p.type, click.Path | click.File) for p in command.params)


STATES: dict[str, Callable[[Call], None]] = {
    f.__name__.replace("_", "-"): f
    for f in (
        no_database_file,
        empty_database,
        unreachable_postgresql,
        bad_policy_file,
        missing_policy_file,
        unreadable_key_dir,
        unreadable_key_file,
        bad_option_value,
        missing_input_file,
    )
}
CASES = [
    pytest.param(
        name, state, id=f"{name.replace(' ', '-')}:{state}"
    )
    for state in STATES
    for name in COMMANDS
    if state != "missing-input-file" or _has_path(COMMANDS[name])
    if not name.startswith("connect ") or state in CONNECTOR_STATES
]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")}
    env["CLEARANCE_KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{_closed_port()}"
    return env


@pytest.mark.parametrize(("name", "state"), CASES)
def test_no_command_prints_a_traceback_for_an_expected_failure(
    name: str, state: str, tmp_path: Path, template: Path
) -> None:
    call = _call(name, tmp_path, _environment(), template)
    (tmp_path / "certificate.json").write_text("{}\n", encoding="utf-8")
    STATES[state](call)
    seconds = SERVER_SECONDS if name in SERVERS else COMMAND_SECONDS
    outcome: Outcome = invoke(call.args(), call.env, tmp_path, run_for=seconds)
    said = f"`clearance {' '.join(call.args())}` in state {state} exited {outcome.exit_code}:\n{outcome.output}"

    assert "Traceback" not in outcome.output, said
    assert PASSWORD not in outcome.output, said
    assert not outcome.hung, f"did not stop on SIGTERM: {said}"
    if outcome.stopped:
        assert name in SERVERS, f"still running after {seconds} s: {said}"
    else:
        assert outcome.exit_code in (0, 1, 2, 3), said
    errors = [line for line in outcome.output.splitlines() if re.match(r"(Error|UNREADABLE):", line)]
    assert len(errors) <= 1, said
    if state == "no-database-file" and name not in CREATORS:
        assert not (tmp_path / "clearance.db").exists(), f"a read-only command left ./clearance.db: {said}"
