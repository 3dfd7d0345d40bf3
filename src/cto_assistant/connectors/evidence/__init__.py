"""EVIDENCE: compliance evidence collected outside CTO Assistant (a GRC tool export, a file)."""

from cto_assistant.connectors.evidence.client import EvidenceConfig, EvidenceConnector

__all__ = ["EvidenceConfig", "EvidenceConnector"]
