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


def check_cli_invocation(args: list[str]) -> None:
    """Fail unless ``clearance ARGS`` names a real command with real options (as a manifest runs it)."""
    import click

    from clearance.cli.main import main

    command: click.Command = main
    words = list(args)
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        name = words.pop(0)
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"`clearance {' '.join(args)}`: no command {name!r}"
        command = sub
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for word in words:
        if word.startswith("-"):
            assert word.split("=")[0] in options, f"`clearance {' '.join(args)}`: no option {word}"


def settings_names() -> set[str]:
    """Every environment variable the service reads (``CLEARANCE_<FIELD>``)."""
    from clearance.settings import Settings

    return {f"CLEARANCE_{name.upper()}" for name in Settings.model_fields}
