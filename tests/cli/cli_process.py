"""Run ``clearance ARGS`` in a process of its own, as a shell would, but without paying the imports each time.

The processes are forked from multiprocessing's fork server, which imports the command line once
(a fresh interpreter: no thread or lock of the test process is inherited). Each child takes its own
working directory and environment, writes stdout and stderr to one file, and exits as the command
does: an uncaught exception prints its traceback there, exactly as the ``clearance`` script would.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["clearance.cli.main", __name__])


@dataclass(frozen=True)
class Outcome:
    """How one invocation ended."""

    exit_code: int | None
    output: str
    stopped: bool  # still running after its time and stopped with SIGTERM
    hung: bool  # did not stop on SIGTERM either (killed)


def _child(args: list[str], env: dict[str, str], cwd: str, out: str) -> None:
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from clearance.cli.main import main

    sys.argv = ["clearance", *args]
    main(args, prog_name="clearance")


def invoke(args: list[str], env: dict[str, str], cwd: Path, *, run_for: float, stop_within: float = 30.0) -> Outcome:
    """Run ``clearance ARGS``; after ``run_for`` seconds send SIGTERM, after ``stop_within`` more, SIGKILL."""
    out = cwd / f".clearance-output-{os.getpid()}-{id(args)}"
    process = _CONTEXT.Process(target=_child, args=(list(args), dict(env), str(cwd), str(out)))
    process.start()
    process.join(run_for)
    stopped = hung = False
    if process.is_alive():
        stopped = True
        process.terminate()
        process.join(stop_within)
        if process.is_alive():
            hung = True
            process.kill()
            process.join(10)
    output = out.read_text(encoding="utf-8", errors="replace") if out.exists() else ""
    out.unlink(missing_ok=True)
    return Outcome(process.exitcode, output, stopped, hung)
