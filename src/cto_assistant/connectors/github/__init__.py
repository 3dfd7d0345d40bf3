"""GitHub connector (REST v3 + GraphQL): repositories, pull requests, deployments, alerts, SBOM, members."""

from cto_assistant.connectors.github.client import GitHubConfig, GitHubConnector

__all__ = ["GitHubConfig", "GitHubConnector"]
