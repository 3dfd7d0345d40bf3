"""Jira Cloud connector (REST v3 + Agile 1.0): sprints, epics, issues, create issue, attach."""

from cto_assistant.connectors.jira.client import JiraConfig, JiraConnector

__all__ = ["JiraConfig", "JiraConnector"]
