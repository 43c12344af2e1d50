"""Sampling the service child with py-spy during a phase, and summarising where the time went.

py-spy (from PyPI) samples every thread of the running child without
changing it; ``--format raw`` writes collapsed stacks, which the summary
folds into self and inclusive shares per function. The raw file loads
into speedscope or flamegraph.pl for the whole picture.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")


def available() -> bool:
    """Whether py-spy is installed (``pip install py-spy``)."""
    return shutil.which("py-spy") is not None


@dataclass
class Sampler:
    """py-spy recording one process until :meth:`stop`."""

    pid: int
    raw_path: Path
    rate: int = 100

    def start(self) -> Sampler:
        self.popen = subprocess.Popen(
            ["py-spy", "record", "--pid", str(self.pid), "--format", "raw", "-o", str(self.raw_path),
             "--rate", str(self.rate), "--gil"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        return self

    def stop(self) -> Path | None:
        """Stop sampling; return the raw stacks file, if py-spy wrote one."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return self.raw_path if self.raw_path.exists() else None


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['func']} ({path})"


def summarise(raw_path: Path, top: int = 30) -> dict[str, object]:
    """Self and inclusive sample shares per function, from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [
            _short(f) for f in stack.split(";") if f and not f.startswith("process ") and not f.startswith("thread ")
        ]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    share = lambda c: round(100.0 * c / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "self_percent": [[name, share(c)] for name, c in own.most_common(top)],
        "inclusive_percent": [[name, share(c)] for name, c in inclusive.most_common(top)],
    }


def write_summary(summary: dict[str, object], path: Path, title: str) -> None:
    """A readable text version of :func:`summarise`."""
    lines = [
        f"{title}: {summary['samples']} samples",
        "(py-spy --gil: the thread holding the GIL, i.e. where the service's Python CPU goes)",
        "",
        "self %:",
    ]
    lines += [f"  {pct:5.1f}  {name}" for name, pct in summary["self_percent"]]  # type: ignore[union-attr]
    lines += ["", "inclusive %:"]
    lines += [f"  {pct:5.1f}  {name}" for name, pct in summary["inclusive_percent"]]  # type: ignore[union-attr]
    path.write_text("\n".join(lines) + "\n")
