"""Verification, documents and the HTTP service stay free of Kafka, like the rest of the domain."""

from __future__ import annotations

import pytest
from architecture.test_layers import test_the_domain_module_does_not_import_kafka as assert_no_kafka

MODULES = [
    "clearance.credential",
    "clearance.verification.offline",
    "clearance.verification.register",
    "clearance.verification.token",
    "clearance.keyrotation",
    "clearance.pdf",
    "clearance.documents",
    "clearance.web.app",
    "clearance.commands.certificates",
]


@pytest.mark.parametrize("module", MODULES)
def test_the_module_does_not_import_kafka(module: str) -> None:
    assert_no_kafka(module)
