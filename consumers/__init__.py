"""Kafka inbound: consumer loops that hand batches to the domain and commit offsets after it."""
