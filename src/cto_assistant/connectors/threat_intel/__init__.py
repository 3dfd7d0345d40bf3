"""Threat intel: CISA KEV, FIRST EPSS and OSV advisories; KEV/EPSS enrichment of vulnerabilities."""

from cto_assistant.connectors.threat_intel.client import ThreatIntelConfig, ThreatIntelConnector
from cto_assistant.connectors.threat_intel.mapping import (
    PackageRef,
    enrich_vulnerabilities,
    inventory_from_rows,
)

__all__ = [
    "PackageRef",
    "ThreatIntelConfig",
    "ThreatIntelConnector",
    "enrich_vulnerabilities",
    "inventory_from_rows",
]
