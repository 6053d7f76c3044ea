"""Amazon Resource Names, built in one place for every target that writes one."""

from __future__ import annotations


def arn(service: str, resource: str, *, partition: str, region: str = "", account: str = "") -> str:
    """`arn:<partition>:<service>:<region>:<account>:<resource>`. The partition has no default: GovCloud and China
    have their own, and an ARN in the wrong one names nothing (`EnvironmentPlan.partition`)."""
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"
