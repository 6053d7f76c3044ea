"""docs/logs.md: where each environment's logs go, how long they stay, and the saved query of each service, read
from the same plan facts the Terraform log groups and query definitions are made from."""

from __future__ import annotations

from bizinfra.naming import control_plane_log_group
from bizinfra.plan import EnvironmentPlan, PlatformPlan

LOGS_PAGE = "docs/logs.md"
WHAT_GROUPS_HOLD = {
    "application": "every container's stdout and stderr, one stream per node",
    "dataplane": "the kubelet and container runtime (the nodes' journal)",
    "host": "the nodes' system logs (/var/log/messages, secure, dmesg)",
}


def logs_page(plan: PlatformPlan) -> str:
    sections = "\n".join(environment_section(env) for env in plan.on("kubernetes"))
    return f"""# {plan.name}: logs

Container logs go to CloudWatch Logs: the EKS add-on `amazon-cloudwatch-observability` runs Fluent Bit on every
node (its Container Insights metrics and Application Signals are off: Prometheus covers the metrics). Terraform
creates the log groups (`logs.tf.json`), encrypted with the environment's KMS key and kept as long as the spec's
`logs.keep` says, rounded up to a retention CloudWatch accepts. The control plane's API, audit, authenticator,
controller manager and scheduler logs go to the cluster's own group, kept `log_retention_days` (365 by default).

Each service has a saved CloudWatch Logs Insights query: in the console, CloudWatch > Logs Insights > Saved queries,
in the folder `{plan.name}/<environment>`. From a shell, with the environment's AWS credentials:

```sh
aws logs start-query --log-group-name <group> --start-time $(date -d '1 hour ago' +%s) --end-time $(date +%s) \\
  --query-string '<query>'
aws logs get-query-results --query-id <the queryId it printed>
```

{sections}"""


def environment_section(env: EnvironmentPlan) -> str:
    groups = "\n".join(f"| `{group}` | {WHAT_GROUPS_HOLD[kind]} | {env.logs.retention_days} days |"
                       for kind, group in env.logs.groups.items())
    control_plane = control_plane_log_group(env.cluster_name)
    queries = "\n".join(f"""### {query.service}

Saved as `{query.name}`, over `{env.logs.application}`:

```text
{query.query}
```
""" for query in env.logs.queries)
    return f"""## {env.name}

Cluster `{env.cluster_name}` ({env.region}).

| log group | holds | kept |
|---|---|---|
{groups}
| `{control_plane}` | the control plane: API server, audit, authenticator, controller manager, scheduler | `log_retention_days` |

{queries}"""
