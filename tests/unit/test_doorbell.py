"""The doorbell between the outbox's writers and the relay."""

from __future__ import annotations

import threading
import time

from clearance.doorbell import Doorbell


def test_a_ring_before_the_wait_is_kept_until_the_wait() -> None:
    bell = Doorbell()
    bell.ring()
    assert bell.wait(timeout=30) is True


def test_a_wait_without_a_ring_ends_at_its_timeout_unrung() -> None:
    assert Doorbell().wait(timeout=0.01) is False


def test_a_wait_leaves_the_bell_quiet_for_the_next_one() -> None:
    bell = Doorbell()
    bell.ring()
    bell.ring()
    bell.wait(timeout=30)
    assert bell.wait(timeout=0.01) is False


def test_a_ring_from_another_thread_ends_a_long_wait() -> None:
    bell = Doorbell()
    ringer = threading.Timer(0.05, bell.ring)
    ringer.start()
    started = time.monotonic()
    try:
        assert bell.wait(timeout=60) is True
    finally:
        ringer.cancel()
    assert time.monotonic() - started < 60
