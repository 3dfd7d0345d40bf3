"""PostgreSQL roles of a production database (read-only): superusers, role admins and writers."""

from cto_assistant.connectors.postgres_access.client import (
    PostgresAccessConfig,
    PostgresAccessConnector,
)

__all__ = ["PostgresAccessConfig", "PostgresAccessConnector"]
