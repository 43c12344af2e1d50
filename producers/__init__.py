"""Kafka outbound: the outbox relay and topic administration."""
