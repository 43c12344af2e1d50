"""The shape of the code, as the folder list promises it (docs/architecture.md).

Layers are the top-level packages and, inside ``clearance/``, each sub-package
(and each module at its top): ``clearance.domain``, ``clearance.services``,
``clearance.store``, ... The graph of imports between layers has no cycle; the
domain imports nothing but the standard library and ``schemas``; the services
no Kafka, SQLAlchemy or FastAPI; no source module is over 400 lines.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import pytest
from architecture.imports import Module, known, layer, modules

MODULES = list(modules())
THIRD_PARTY_ALLOWED_IN_DOMAIN: frozenset[str] = frozenset()


def _top(name: str) -> str:
    return name.split(".")[0]


def _third_party(module: Module) -> set[str]:
    return {
        _top(i)
        for i in module.imports
        if _top(i) not in sys.stdlib_module_names and layer(i) is None and _top(i) != "__future__"
    }


def _in(layer_name: str) -> list[Module]:
    return [m for m in MODULES if layer(m.name) == layer_name]


@pytest.mark.parametrize("module", _in("clearance.domain"), ids=lambda m: m.name)
def test_the_domain_imports_only_the_standard_library_and_the_contract(module: Module) -> None:
    ours = {known(i) for i in module.imports} - {None}
    assert ours <= {"clearance.domain", "schemas"}, f"{module.name} imports {sorted(ours)}"
    assert _third_party(module) <= THIRD_PARTY_ALLOWED_IN_DOMAIN, f"{module.name} imports {_third_party(module)}"


@pytest.mark.parametrize("module", _in("clearance.services"), ids=lambda m: m.name)
def test_the_services_import_no_kafka_no_database_no_web(module: Module) -> None:
    forbidden = _third_party(module) & {"kafka", "sqlalchemy", "fastapi", "starlette", "psycopg", "uvicorn"}
    assert not forbidden, f"{module.name} imports {sorted(forbidden)}"
    ours = {known(i) for i in module.imports} - {None}
    assert not ours & {"clearance.store", "consumers", "producers"}, f"{module.name} reaches an adapter: {ours}"


NO_KAFKA = ("clearance.domain", "clearance.services", "clearance.store", "clearance.documents",
            "clearance.verification", "clearance.web", "clearance.signing", "clearance.config", "schemas")  # fmt: skip


@pytest.mark.parametrize("module", [m for m in MODULES if layer(m.name) in NO_KAFKA], ids=lambda m: m.name)
def test_only_the_adapters_and_entry_points_import_kafka(module: Module) -> None:
    assert "kafka" not in _third_party(module)


def _cycles() -> list[list[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module in MODULES:
        source = layer(module.name)
        for imported in module.imports:
            target = known(imported)
            if source and target and target != source:
                graph[source].add(target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_import_cycle_between_layers() -> None:
    assert _cycles() == []


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_no_source_module_is_over_400_lines(module: Module) -> None:
    assert module.lines <= 400
