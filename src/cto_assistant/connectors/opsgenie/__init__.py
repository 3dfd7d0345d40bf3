"""Opsgenie connector: alerts with their logs, on-call timelines, users."""

from cto_assistant.connectors.opsgenie.client import OpsgenieConfig, OpsgenieConnector

__all__ = ["OpsgenieConfig", "OpsgenieConnector"]
