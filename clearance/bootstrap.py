"""The composition root: the one place that builds the store, policy, keys, context and workers."""

from __future__ import annotations

from datetime import timedelta

from clearance.config.policy_source import PolicySource
from clearance.config.trust_file import load_trust
from clearance.service import Service
from clearance.services.results import Context
from clearance.settings import Settings
from clearance.signing.keys import KeyRing
from clearance.signing.source import KeySource
from clearance.store.engine import Database
from consumers.streams import Streams


def open_store(settings: Settings) -> Database:
    """The database the settings name (engine and sessions)."""
    return Database(settings.database_url)


def build_context(settings: Settings) -> Context:
    """What the services need besides the store: the policy and key in force, the clock, the issuer."""
    return Context(
        policy=PolicySource(settings.policy_file),
        signing_key=KeySource(KeyRing(settings.key_dir)),
        clock=settings.now,
        issuer=settings.issuer,
        freshness_max_wait=timedelta(seconds=settings.freshness_max_wait_seconds),
        max_message_bytes=settings.max_message_bytes,
    )


def create_service(settings: Settings, database: Database | None = None) -> Service:
    """The whole service: consumer loops, freshness sweeper, outbox relay and metrics, not yet started.

    Raises :class:`~clearance.config.trust_file.TrustFileError` for a trust file it cannot apply.
    """
    streams = Streams(settings, load_trust(settings.trust_file))
    return Service(settings, database or open_store(settings), build_context(settings), streams)
