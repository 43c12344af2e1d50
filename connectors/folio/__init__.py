"""The FOLIO connector: a Kafka-to-Kafka bridge from FOLIO's loan, user and fee/fine events to library.* events."""
