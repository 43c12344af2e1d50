"""Running the external validators of what is shipped for deployment (npm tools, linters) from tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE_TOOLS = ROOT / ".ci" / "node"


def tool_missing(what: str) -> None:
    """Fail under CI, skip loudly elsewhere: a validator the checks need is not installed."""
    message = f"VALIDATOR MISSING: {what}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def node_tool(name: str, package: str) -> list[str]:
    """The command that runs ``.ci/node/<name>/validate.mjs``, once its npm package is installed."""
    folder = NODE_TOOLS / name
    if shutil.which("node") is None:
        tool_missing("node is not on PATH (Debian: apt-get install nodejs npm)")
    if not (folder / "node_modules" / package / "package.json").is_file():
        tool_missing(f"{package} is not installed: run `bash .ci/setup.d/{name}.sh`")
    return ["node", str(folder / "validate.mjs")]


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a validator and keep its output for the assertion message."""
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, **kwargs)
