"""Who may say what (G11): the rules binding each topic to the sources, types and libraries it may claim.

Kafka consumers cannot see who produced a record, so authenticity comes from
topics: each producer writes its own topic ``<topic>.<producer>``, writable only
by its principal, and the trust file (SPEC §7, docs/contract.md#trust-file)
says what events on each topic may claim. Topic names here are without the
deployment's prefix. Pure: the file is read by :mod:`clearance.config.trust_file`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.registry import InboundEvent


def glob_pattern(glob: str) -> str:
    """A regular expression (unanchored) for ``glob``: ``*`` matches any run of characters, dots included."""
    return ".*".join(re.escape(part) for part in glob.split("*"))


@dataclass(frozen=True, slots=True)
class TrustRule:
    """One ``[[rule]]``: what events arriving on ``topic`` may claim."""

    topic: str
    sources: tuple[str, ...]
    types: tuple[str, ...]
    # For library.* types: data.library_id must be one of these; empty admits any.
    library_ids: tuple[str, ...] = ()

    def matches_topic(self, topic: str) -> bool:
        """Whether the rule speaks for events arriving on ``topic``."""
        return _matches(self.topic, topic)

    def refusal(self, event: InboundEvent) -> str | None:
        """Why this rule does not admit ``event`` (None when it does)."""
        envelope = event.envelope
        if not any(_matches(glob, envelope.source) for glob in self.sources):
            return f"source {envelope.source!r} may not write {self.topic}"
        if not any(_matches(glob, envelope.type) for glob in self.types):
            return f"{envelope.source!r} may not send {envelope.type} on {self.topic}"
        library_id = getattr(event.data, "library_id", None)
        if envelope.type.startswith("library.") and self.library_ids and library_id not in self.library_ids:
            return f"{envelope.source!r} may not speak for library {library_id!r} on {self.topic}"
        return None


def _matches(glob: str, text: str) -> bool:
    return re.fullmatch(glob_pattern(glob), text) is not None


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    """Every rule of a trust file."""

    rules: tuple[TrustRule, ...]

    def refusal(self, topic: str, event: InboundEvent) -> str | None:
        """None when some rule for ``topic`` admits ``event``; else what was refused (G11)."""
        candidates = [rule for rule in self.rules if rule.matches_topic(topic)]
        if not candidates:
            return f"no trust rule names topic {topic}"
        reasons = [rule.refusal(event) for rule in candidates]
        if any(reason is None for reason in reasons):
            return None
        return "; ".join(dict.fromkeys(r for r in reasons if r is not None))

    def topics_of(self, family: str) -> tuple[str, ...]:
        """The topic globs of the rules that belong to ``family`` (the shared topic or its per-producer ones)."""
        return tuple(
            dict.fromkeys(
                rule.topic for rule in self.rules if rule.topic == family or rule.topic.startswith(f"{family}.")
            )
        )


def family_of(stream: str, families: tuple[str, ...]) -> str | None:
    """The shared topic ``stream`` belongs to: itself, or the topic of which it is a per-producer topic."""
    for family in families:
        if stream == family or stream.startswith(f"{family}."):
            return family
    return None
