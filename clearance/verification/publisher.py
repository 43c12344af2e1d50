"""Keeps the credentials' status lists current: signed again, by the service, soon after each revocation.

`clearance serve` only publishes what is stored; signing needs the private key,
so it is the running service (which has it) that re-signs a list whose
revocations changed, every ``CLEARANCE_STATUS_LIST_SECONDS``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog
from sqlalchemy.orm import Session, sessionmaker

from clearance.documents.did import did_web
from clearance.settings import Settings
from clearance.signing.keys import SigningKey
from clearance.verification import status_lists
from clearance.worker import Worker

log = structlog.get_logger("clearance.status_lists")


class StatusListPublisher(Worker):
    """Re-signs changed status lists until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        stop: threading.Event,
        signing_key: Callable[[], SigningKey],
    ) -> None:
        super().__init__(settings, session_factory, stop)
        self.signing_key = signing_key

    def publish_once(self) -> list[int]:
        """Sign and store every list whose revocations changed; the numbers of those lists."""
        settings = self.settings
        with self.session_factory() as session:
            changed = status_lists.publish(
                session, base_url=settings.verify_base_url, issuer_did=did_web(settings.verify_base_url),
                issuer_name=settings.library_name, bits=settings.status_list_bits, key=self.signing_key(),
                now=settings.now(),
            )  # fmt: skip
            session.commit()
        if changed:
            log.info("status_lists_signed", lists=changed)
        return changed

    def run(self) -> None:
        """Publish, then wait; an outage (or another instance signing the same list) is retried later."""
        while not self.stop.is_set():
            try:
                self.publish_once()
                self.backoff.reset()
                self.stop.wait(self.settings.status_list_seconds)
            except Exception as exc:  # the next round tries again; the register itself is never wrong
                delay = self.backoff.next_delay()
                log.warning("status_list_publish_failed", error=repr(exc)[:200], retry_in=round(delay, 2))
                self.stop.wait(delay)
