"""Datadog: SLOs + history, monitors, hosts, incidents."""

from cto_assistant.connectors.datadog.client import DatadogConfig, DatadogConnector

__all__ = ["DatadogConfig", "DatadogConnector"]
