"""The complete tool catalogue: import every tools module so `REGISTRY` holds every tool.

Modules are imported by name; one that does not exist yet is skipped (the router still knows
its intents and says plainly that the capability is not available), while a module that exists
but fails to import raises: a broken tool must never disappear silently.
"""

from __future__ import annotations

import importlib

from cto_assistant.tools.base import REGISTRY, ToolSpec

TOOL_MODULES = (
    "cto_assistant.tools.summary",
    "cto_assistant.tools.engineering",
    "cto_assistant.tools.operations",
    "cto_assistant.tools.security",
    "cto_assistant.tools.watch",
    "cto_assistant.tools.research",
    "cto_assistant.tools.actions",
)


def load_tools() -> dict[str, ToolSpec]:
    """Import every tools module that exists and return the registry."""
    for name in TOOL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return REGISTRY


def missing_modules() -> list[str]:
    """Tools modules not written yet (for `cto config check` and the report)."""
    missing = []
    for name in TOOL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            missing.append(name)
    return missing
