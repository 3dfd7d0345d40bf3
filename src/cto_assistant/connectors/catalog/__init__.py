"""CATALOG: the organisation as a file — teams, people, services and repositories."""

from cto_assistant.connectors.catalog.client import CatalogConfig, CatalogConnector

__all__ = ["CatalogConfig", "CatalogConnector"]
