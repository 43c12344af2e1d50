"""`clearance demo` plays a graduation period on the embedded default and agrees with its simulation."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from clearance.demo.run import run_demo
from clearance.demo.simulation import simulate
from clearance.signing.keys import KeyRing, verify

pytestmark = pytest.mark.kafka


def test_the_demo_reaches_every_expected_outcome_and_leaves_verifiable_certificates(tmp_path: Path) -> None:
    assert run_demo(students=40, out_dir=tmp_path, seed=7, timeout=120) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    expected_cleared = sum(s.expected_status == "cleared" for s in simulate(40, 7).students)
    assert summary["final_status"]["cleared"] == expected_cleared
    assert summary["mismatches"] == []
    # Every producer on its own topic under the demo's trust file, and the one forgery refused (G11).
    connection = sqlite3.connect(tmp_path / "clearance.db")
    kinds = connection.execute("SELECT error_kind, origin_topic FROM dead_letters").fetchall()
    connection.close()
    assert [kind for kind, _topic in kinds] == ["unauthorized"]
    files = sorted((tmp_path / "certificates").glob("*.json"))
    assert len(files) == summary["certificates_issued"] > 0
    jwks = KeyRing(tmp_path / "keys").jwks()
    for path in files:
        issued = json.loads(path.read_text())
        assert verify(issued["certificate"], issued["proof"], jwks) == (True, "valid")


def test_the_simulation_covers_every_case_and_is_reproducible() -> None:
    first, again = simulate(40, 7), simulate(40, 7)
    assert [s.case for s in first.students] == [s.case for s in again.students]
    assert len({s.case for s in first.students}) == 13
    assert len({s.student_id for s in first.students}) == 40
