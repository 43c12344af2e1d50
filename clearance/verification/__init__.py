"""Checking certificates: offline against a JWK Set, and against the service's register."""
