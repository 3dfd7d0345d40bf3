"""The people roster (CSV/JSON export of employees): current staff and leavers."""

from cto_assistant.connectors.roster.client import RosterConfig, RosterConnector

__all__ = ["RosterConfig", "RosterConnector"]
