"""The store: SQLAlchemy 2 tables of the domain model, migrations, upserts and queries."""

from cto_assistant.store.db import Store, open_store

__all__ = ["Store", "open_store"]
