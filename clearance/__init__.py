"""Graduation clearance: the domain (policy, decisions, certificates) and its store."""

__version__ = "0.1.0"
