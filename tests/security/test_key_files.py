"""Signing keys appear whole or not at all, even when several instances create the first one at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from clearance.signing.keys import KeyRing


def _first_key(directory: str, queue: multiprocessing.Queue) -> None:
    try:
        key = KeyRing(Path(directory)).signing_key(create=True)
        queue.put(("ok", key.key_id))
    except Exception as exc:  # reported to the test, which fails on it
        queue.put(("error", repr(exc)))


def test_instances_creating_the_first_key_at_once_all_load_one_whole_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_ in range(5):
        directory = tmp_path / f"keys-{round_}"
        queue = context.Queue()
        workers = [context.Process(target=_first_key, args=(str(directory), queue)) for _ in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        outcomes = [queue.get(timeout=5) for _ in workers]
        assert all(kind == "ok" for kind, _ in outcomes), outcomes
        ring = KeyRing(directory)
        # Every instance signs with a key the directory holds, whole.
        assert {key_id for _, key_id in outcomes} <= set(ring.key_ids())
        for key_id in ring.key_ids():
            ring.load(key_id)
        assert not list(directory.glob(".tmp-*"))


def test_a_new_key_is_written_owner_only(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "keys")
    key = ring.signing_key(create=True)
    assert (tmp_path / "keys" / f"{key.key_id}.pem").stat().st_mode & 0o777 == 0o600
