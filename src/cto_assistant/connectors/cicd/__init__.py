"""CI_CD: deployments from GitLab, Jenkins and CircleCI (GitHub Actions lives in `github`).

Each tool is its own connector kind; `CICD_KINDS` maps kind → class for the registry.
"""

from cto_assistant.connectors.base import Connector
from cto_assistant.connectors.cicd.client_circleci import CircleCIConfig, CircleCIConnector
from cto_assistant.connectors.cicd.client_gitlab import GitLabConfig, GitLabConnector
from cto_assistant.connectors.cicd.client_jenkins import JenkinsConfig, JenkinsConnector
from cto_assistant.connectors.cicd.mapping import DeployRules

CICD_KINDS: dict[str, type[Connector]] = {
    "gitlab": GitLabConnector,
    "jenkins": JenkinsConnector,
    "circleci": CircleCIConnector,
}

__all__ = [
    "CICD_KINDS",
    "CircleCIConfig",
    "CircleCIConnector",
    "DeployRules",
    "GitLabConfig",
    "GitLabConnector",
    "JenkinsConfig",
    "JenkinsConnector",
]
