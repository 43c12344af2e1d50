"""The OAI-PMH connector as its tests drive it: thesis records for the test repository, and one connector
publishing to a topic of its own on a real broker."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from oai_repository import Repository

from connectors.oaipmh.connector import OaiPmhConnector
from connectors.oaipmh.mapping import MappingRules
from connectors.oaipmh.source import OaiSource
from connectors.runtime import PassResult, Publisher, StateStore

SOURCE = "urn:repository:127.0.0.1"
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
STUDENT_ID_PATTERN = r"NIM:\s*(\d+)"


def later(minutes: int) -> datetime:
    """``minutes`` after T0 (in the past of every test run)."""
    return T0 + timedelta(minutes=minutes)


def thesis_id(number: int) -> str:
    return f"oai:repository.example.ac.id:123456789/{number}"


def put_thesis(repository: Repository, number: int, at: datetime, *, student: str | None = None, **kw: Any) -> str:
    """Archive thesis ``number`` with a ``NIM: <student>`` line in its description; return its identifier."""
    identifier = thesis_id(number)
    repository.put(identifier, at=at, title=kw.pop("title", f"Skripsi nomor {number}"),
                   description=["Abstrak penelitian ...", f"NIM: {student or f'2019{number:06d}'}"], **kw)  # fmt: skip
    return identifier


@dataclass
class Harvest:
    """The connector as the command builds it, publishing to ``topic`` on a real broker."""

    url: str
    bootstrap: str
    topic: str
    state: StateStore
    publisher: Publisher
    metadata_prefix: str = "oai_dc"
    set_spec: str | None = None

    def connector(self, **kw: Any) -> OaiPmhConnector:
        rules = MappingRules(source=SOURCE, student_id_field="description",
                             student_id_pattern=re.compile(STUDENT_ID_PATTERN))  # fmt: skip
        return OaiPmhConnector(OaiSource(self.url, self.metadata_prefix, self.set_spec, timeout=5), rules, **kw)

    def run_pass(self, **kw: Any) -> PassResult:
        """One pass of a fresh connector (as a restarted process would run it) on the kept state."""
        connector = self.connector(**kw)
        try:
            return connector.run_pass(self.publisher, self.state)
        finally:
            connector.close()


def connector_argv() -> list[str]:
    """How to start ``python -m connectors oai-pmh`` as a process.

    Until the ``connect`` group (connectors/cli.py, owned by the runtime) lists
    ``oai-pmh``, the same group is run with the command added.
    """
    from connectors.cli import connect

    if "oai-pmh" in connect.commands:
        return [sys.executable, "-m", "connectors", "oai-pmh"]
    script = (
        "from connectors.cli import connect; from connectors.oaipmh.command import command; "
        "connect.add_command(command); connect(prog_name='python -m connectors')"
    )
    return [sys.executable, "-c", script, "oai-pmh"]
