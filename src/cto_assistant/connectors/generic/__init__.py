"""GENERIC: deployments and incidents from any CI or incident tool, by webhook or CSV/JSON file."""

from cto_assistant.connectors.generic.connector import (
    GenericConfig,
    GenericConnector,
    ingest_tokens,
    source_for_token,
)
from cto_assistant.connectors.generic.mapping import DeploymentIn, IncidentIn

__all__ = [
    "DeploymentIn",
    "GenericConfig",
    "GenericConnector",
    "IncidentIn",
    "ingest_tokens",
    "source_for_token",
]
