"""The use cases: ingest a batch, decide, and write the effects, through an abstract unit of work."""
