"""The plan: per environment, every fact two targets share, computed once from the spec and only read by targets.

That is what keeps the Deployment, the NetworkPolicy, the compose file and the security group agreeing by
construction. Two modules, and the naming conventions:

- `bizinfra.naming` (beside it, since the spec's checks use it too): the conventions that turn a name the user
  wrote into the names of the objects bizinfra makes;
- `model`: the plan's data classes; a string derived from a fact (a port as text, a ConfigMap's name) is a
  property of the field it comes from, so one change in the plan moves every file that shows it;
- `resolve`: the pure function from a validated `Platform` to its `PlatformPlan`.
"""

from bizinfra.naming import (
    APP_USER_ID,
    BOOTSTRAP_COMPONENT,
    BOOTSTRAP_STACK,
    CLUSTER_AUTOSCALER,
    DATABASE_EXPORTER_USER,
    DATABASE_MASTER_USER,
    DOCKERFILE,
    EXPORTER_COMPONENT,
    EXPORTER_PORTS,
    LIVE_SLOT,
    LOAD_BALANCER_LOG_PREFIX,
    MANAGED_BY,
    OUTPUT_FOLDER,
    PART_OF_LABEL,
    POD_IDENTITY_AGENT,
    PULL_SECRET,
    SERVICE_NAME_LABEL,
    SLOT_LABEL,
    SLOTS,
    aws_name,
    aws_partition,
    bootstrap_name,
    exporter_name,
    github_pull_request_subject,
    github_subject,
    secret_key,
    service_url_variable,
    slot_deployments,
    state_key,
)
from bizinfra.plan.model import (
    ROLLING_SURGE_PERCENT,
    AlertingPlan,
    BackupPlan,
    BucketPlan,
    BuildPlan,
    CronPlan,
    DatabaseBootstrap,
    DatabaseRole,
    DatastorePlan,
    DeployPlan,
    EdgePlan,
    EnvironmentPlan,
    ExporterPlan,
    ExternalHost,
    LogQuery,
    LogsPlan,
    MonitoringStackPlan,
    NetworkPlan,
    PlatformPlan,
    PullSecretPlan,
    ReceiverPlan,
    RecoveryPlan,
    RegistryPlan,
    SecretRef,
    ServiceBuild,
    ServicePlan,
    SloPlan,
    StandbyPlan,
    WorkloadIdentity,
)
from bizinfra.plan.resolve import load_balancer_name, resolve, resolve_environment, target_group_name

__all__ = [
    "APP_USER_ID", "BOOTSTRAP_COMPONENT", "BOOTSTRAP_STACK", "CLUSTER_AUTOSCALER", "DATABASE_EXPORTER_USER",
    "DATABASE_MASTER_USER", "DOCKERFILE", "EXPORTER_COMPONENT", "EXPORTER_PORTS",
    "LIVE_SLOT", "LOAD_BALANCER_LOG_PREFIX", "MANAGED_BY", "OUTPUT_FOLDER", "PART_OF_LABEL", "POD_IDENTITY_AGENT",
    "PULL_SECRET", "ROLLING_SURGE_PERCENT", "SERVICE_NAME_LABEL", "SLOTS", "SLOT_LABEL",
    "AlertingPlan", "BackupPlan", "BucketPlan", "BuildPlan",
    "CronPlan", "DatabaseBootstrap", "DatabaseRole", "DatastorePlan", "DeployPlan", "EdgePlan", "EnvironmentPlan",
    "ExporterPlan",
    "ExternalHost", "LogQuery", "LogsPlan", "MonitoringStackPlan", "NetworkPlan", "PlatformPlan", "PullSecretPlan",
    "ReceiverPlan",
    "RecoveryPlan", "RegistryPlan", "SecretRef", "ServiceBuild", "ServicePlan", "SloPlan", "StandbyPlan",
    "WorkloadIdentity", "aws_name", "aws_partition", "bootstrap_name", "exporter_name", "github_pull_request_subject",
    "github_subject", "load_balancer_name", "resolve", "resolve_environment", "secret_key", "service_url_variable",
    "slot_deployments", "state_key", "target_group_name",
]
