"""Snyk connector: issues → vulnerability rows."""

from cto_assistant.connectors.snyk.client import SnykConfig, SnykConnector

__all__ = ["SnykConfig", "SnykConnector"]
