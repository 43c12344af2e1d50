"""The SQLAlchemy store: tables, engine set-up, repository and unit of work."""
