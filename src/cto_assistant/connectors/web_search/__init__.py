"""WEB_SEARCH lives in `cto_assistant.research`; this is its place among the built-in kinds."""

from __future__ import annotations

from cto_assistant.research.connector import WebSearchConfig, WebSearchConnector

__all__ = ["WebSearchConfig", "WebSearchConnector"]
