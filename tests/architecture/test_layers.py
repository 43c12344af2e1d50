"""The shape of the code: the domain, its documents, metrics and HTTP service never import Kafka."""

from __future__ import annotations

import subprocess
import sys

import pytest

DOMAIN_MODULES = [
    "clearance.policy",
    "clearance.engine",
    "clearance.projections",
    "clearance.ordering",
    "clearance.certificates",
    "clearance.signing",
    "clearance.handlers",
    "clearance.store.repository",
    "clearance.store.inspection",
    "clearance.metrics",
    "clearance.credential",
    "clearance.verification.offline",
    "clearance.verification.register",
    "clearance.verification.token",
    "clearance.keyrotation",
    "clearance.pdf",
    "clearance.documents",
    "clearance.web.app",
    "clearance.commands.certificates",
    "schemas",
]


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_the_domain_module_does_not_import_kafka(module: str) -> None:
    probe = f"import sys, {module}; print(sorted(m for m in sys.modules if m == 'kafka' or m.startswith('kafka.')))"
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
