"""FOCUS billing exports: the multi-cloud cost path (DuckDB rollup into cost_daily)."""

from cto_assistant.connectors.focus.client import FocusConfig, FocusConnector

__all__ = ["FocusConfig", "FocusConnector"]
