"""AWS Cost Explorer (boto3 `ce`): daily cost, forecast, anomalies, recommendations."""

from cto_assistant.connectors.aws_cost_explorer.client import (
    AwsCostExplorerConfig,
    AwsCostExplorerConnector,
)

__all__ = ["AwsCostExplorerConfig", "AwsCostExplorerConnector"]
