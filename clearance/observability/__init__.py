"""Logs, the observer protocol the workers report through, Prometheus metrics and health checks."""
