"""AWS IAM (boto3 `iam`): users, groups and admin roles as access grants for the access audit."""

from cto_assistant.connectors.aws_iam.client import AwsIamConfig, AwsIamConnector

__all__ = ["AwsIamConfig", "AwsIamConnector"]
