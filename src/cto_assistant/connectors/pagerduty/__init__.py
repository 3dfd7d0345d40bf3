"""PagerDuty connector: services, users, incidents with timelines, on-call shifts."""

from cto_assistant.connectors.pagerduty.client import PagerDutyConfig, PagerDutyConnector

__all__ = ["PagerDutyConfig", "PagerDutyConnector"]
