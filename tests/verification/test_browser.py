"""The page a QR code opens, served by a real uvicorn and rendered by a real headless Chromium.

The DOM Chromium builds (``--dump-dom``) gives the exact text; its screenshot is
read back with Tesseract OCR, so the test checks what a person would see, not
only what the HTML says. Both run without JavaScript: the page has none.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from PIL import Image
from services import unavailable

from clearance.verification.letters import verification_url
from clearance.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
VALID_GREEN = (0x16, 0x65, 0x34)
REVOKED_RED = (0xB9, 0x1C, 0x1C)


class Server:
    """The verification service on a free loopback port, in a thread of this process."""

    def __init__(self, app) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()

    def url(self, absolute: str) -> str:
        """The same URL as the QR code's, but on this server."""
        path = absolute.split("://", 1)[1].split("/", 1)[1]
        return f"http://127.0.0.1:{self.port}/{path}"


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).is_file():
        unavailable(f"{CHROMIUM} (Debian's chromium); install it with .ci/setup.d/chromium.sh")
    return CHROMIUM


@pytest.fixture
def tesseract() -> str:
    found = shutil.which("tesseract")
    if found is None:
        unavailable("tesseract (Debian's tesseract-ocr); install it with .ci/setup.d/tesseract.sh")
    return found  # type: ignore[return-value]


@pytest.fixture
def server(settings, issuer) -> Iterator[Server]:
    with Server(create_app(settings)) as server:
        yield server


def _browse(chromium: str, url: str, tmp_path: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{time.monotonic_ns()}"
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={profile}", "--window-size=1200,1300", *mode, url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _screenshot(chromium: str, url: str, tmp_path: Path) -> Path:
    png = tmp_path / "page.png"
    _browse(chromium, url, tmp_path, f"--screenshot={png}")
    assert png.is_file(), "chromium wrote no screenshot"
    return png


def _ocr(tesseract: str, png: Path) -> str:
    done = subprocess.run([tesseract, str(png), "-", "--psm", "3"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())


def _share_of(png: Path, colour: tuple[int, int, int]) -> float:
    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
    close = (np.abs(pixels - np.array(colour, dtype=np.int16)) <= 6).all(axis=-1)
    return float(close.mean())


def test_the_page_in_a_browser_shows_the_student_and_valid(chromium, tesseract, server, issuer, settings, tmp_path):
    number = issuer.clear()
    url = server.url(verification_url(settings, issuer.record(number)))
    dom = _browse(chromium, url, tmp_path, "--dump-dom").stdout
    for text in ("Siti Rahmawati", "SAH", "VALID", "2019100123", "Teknik Sipil", number):
        assert text in dom
    png = _screenshot(chromium, url, tmp_path)
    seen = _ocr(tesseract, png)
    assert "Siti Rahmawati" in seen
    assert "SAH" in seen and "VALID" in seen
    assert _share_of(png, VALID_GREEN) > 0.02  # the green banner is drawn: the page's style applied


def test_the_page_of_a_revoked_certificate_in_a_browser_says_revoked(
    chromium, tesseract, server, issuer, settings, tmp_path
):
    number = issuer.clear()
    issuer.withdraw()
    png = _screenshot(chromium, server.url(verification_url(settings, issuer.record(number))), tmp_path)
    seen = _ocr(tesseract, png)
    assert "Siti Rahmawati" in seen
    assert "DICABUT" in seen and "REVOKED" in seen
    assert "SAH" not in seen.replace("TIDAK SAH", "")
    assert _share_of(png, REVOKED_RED) > 0.02 and _share_of(png, VALID_GREEN) == 0


def test_a_wrong_token_in_a_browser_shows_only_not_found(chromium, server, issuer, settings, tmp_path) -> None:
    number = issuer.clear()
    url = server.url(verification_url(settings, issuer.record(number)))
    dom = _browse(chromium, url[:-4] + "AAAA", tmp_path, "--dump-dom").stdout
    assert "Tidak ditemukan" in dom and "Not found" in dom
    assert "Siti Rahmawati" not in dom and number not in dom
