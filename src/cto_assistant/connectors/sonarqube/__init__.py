"""SONARQUBE: projects, current measures and quality gate, measures history."""

from cto_assistant.connectors.sonarqube.client import SonarQubeConfig, SonarQubeConnector

__all__ = ["SonarQubeConfig", "SonarQubeConnector"]
