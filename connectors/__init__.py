"""Connectors: processes that turn a library's or repository's own system into the inbound events of SPEC §4.

The shared runtime (publishing, durable state, the pass loop, the common command-line
options) is in :mod:`connectors.runtime`; each connector lives in its own sub-package
(``connectors.slims``, ...) and is a command of the ``connect`` group in :mod:`connectors.cli`.
"""
