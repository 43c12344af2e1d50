"""The README's "After the demo" commands work as written, in the folder where `clearance demo` ran.

The commands are read from the README's ``sh`` blocks under "## After the demo", one a line; a
trailing ``# exits N`` comment is the exit code the README promises (0 otherwise). The demo runs
once, small (``--students 30``: the README's commands name only the two students every demo has),
with its own embedded broker; then each command runs through a shell exactly as the README prints
it, with ``clearance`` being this checkout's command line. ``clearance serve`` is started, asked for
the page the QR code of the demo's first letter holds, and stopped.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from services import unavailable

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## After the demo"
_EXITS = re.compile(r"#.*\bexits (\d+)")

pytestmark = pytest.mark.kafka


def readme_commands() -> list[tuple[str, int]]:
    """(command, promised exit code) of every line of the ``sh`` blocks in the README's "After the demo"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            promised = _EXITS.search(line)
            command = re.sub(r"\s+#.*$", "", line).strip()
            commands.append((command, int(promised.group(1)) if promised else 0))
    return commands


COMMANDS = readme_commands()
ONE_SHOT = [(c, code) for c, code in COMMANDS if not c.startswith("clearance serve")]
SERVE = [c for c, _ in COMMANDS if c.startswith("clearance serve")]


def _environment(bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A folder where `clearance demo --students 30` has just run, and the environment to run commands in."""
    bin_dir = tmp_path_factory.mktemp("bin")
    shim = bin_dir / "clearance"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m clearance.cli "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    folder = tmp_path_factory.mktemp("newcomer")
    env = _environment(bin_dir)
    done = subprocess.run(
        ["clearance", "demo", "--students", "30"], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        if "BrokerError" in done.stderr or "embedded broker" in done.stderr.lower():
            unavailable(f"the embedded broker (Tansu) did not start for `clearance demo`: {done.stderr[-500:]}")
        pytest.fail(f"`clearance demo --students 30` exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    yield folder, env


def test_the_readme_shows_the_commands_after_the_demo() -> None:
    names = {" ".join(c.split()[:2]) for c, _ in COMMANDS}
    for expected in ("clearance verify", "clearance certificate", "clearance status", "clearance applications",
                     "clearance dlq", "clearance keys", "clearance serve"):  # fmt: skip
        assert expected in names, f"the README's '{SECTION}' no longer shows `{expected}`"


@pytest.mark.parametrize(("command", "promised"), ONE_SHOT, ids=[c for c, _ in ONE_SHOT])
def test_a_readme_command_works_as_written_after_the_demo(
    command: str, promised: int, demo_folder: tuple[Path, dict[str, str]]
) -> None:
    folder, env = demo_folder
    done = subprocess.run(["sh", "-c", command], cwd=folder, env=env, capture_output=True, text=True, timeout=60)
    said = f"`{command}` exited {done.returncode} (README: {promised}):\n{done.stdout}\n{done.stderr}"
    assert done.returncode == promised, said
    assert "Traceback" not in done.stdout + done.stderr, said
    assert done.stdout.strip(), said


def _qr_url(pdf: Path) -> str:
    image = pdfium.PdfDocument(pdf)[0].render(scale=3).to_pil().convert("L")
    decoded, points, _ = cv2.QRCodeDetector().detectAndDecode(np.array(image))
    assert points is not None and decoded, f"no QR code read from {pdf}"
    return str(decoded)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("command", SERVE)
def test_the_letters_qr_code_opens_on_clearance_serve_as_written(
    command: str, demo_folder: tuple[Path, dict[str, str]]
) -> None:
    folder, env = demo_folder
    url = _qr_url(folder / "clearance-demo" / "certificates" / "BP_2026-2_0000001.pdf")
    port = int(re.match(r"https?://[^/:]+:(\d+)/", url).group(1))  # type: ignore[union-attr]
    assert _port_free(port), f"port {port} is taken on this machine: `{command}` cannot listen there"
    server = subprocess.Popen(
        ["sh", "-c", f"exec {command}"], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        page = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    page = (answer.status, answer.read().decode("utf-8"))
                break
            except OSError:
                time.sleep(0.3)
        assert page is not None, f"`{command}` never answered {url}"
        assert page[0] == 200 and "SAH" in page[1] and "Siti Rahmawati" in page[1], page
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=30)[0].decode("utf-8", "replace")
    assert "Traceback" not in output, output
    assert re.search(rf"127\.0\.0\.1:{port}", output), f"`{command}` does not say where it listens:\n{output}"


def test_the_commands_after_the_demo_created_no_store_and_no_key(demo_folder: tuple[Path, dict[str, str]]) -> None:
    folder, _ = demo_folder
    assert not (folder / "clearance.db").exists()
    assert not (folder / "keys").exists()
    assert len(list((folder / "clearance-demo" / "keys").glob("*.pem"))) == 1  # the demo's own, and no other
