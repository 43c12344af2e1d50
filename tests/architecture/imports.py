"""The import graph of the source tree, read statically (lazy imports inside functions included)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "clearance", "consumers", "producers", "connectors")
# The layers of clearance/: each sub-package is one, and so is each module at its top.
LAYERED = "clearance"


@dataclass(frozen=True, slots=True)
class Module:
    """One source module: its dotted name, path and what it imports."""

    name: str
    path: Path
    imports: frozenset[str]

    @property
    def lines(self) -> int:
        return len(self.path.read_text(encoding="utf-8").splitlines())


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return frozenset(found)


def modules() -> Iterator[Module]:
    """Every source module of the distribution (migration scripts aside)."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations/versions" in path.as_posix():
                continue
            name = _name(path)
            yield Module(name, path, _imports(path, name))


def layer(module: str) -> str | None:
    """The layer a dotted name belongs to: a top-level package, or a layer of clearance/."""
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None
    if parts[0] == LAYERED and len(parts) > 1:
        return f"{LAYERED}.{parts[1]}"
    return parts[0]


def known(imported: str) -> str | None:
    """The layer of an imported name, where it is one of ours and not just a package's ``__init__``."""
    found = layer(imported)
    if found == LAYERED:
        return None  # `import clearance` alone names no layer
    return found
