"""The seed's runbooks as scripts, with every name, region and bucket filled in from the plan.

One script per task, taking the environment as its first argument, rather than one copy per
environment: an operator learns one command, and naming the environment on every run keeps a
production rollback from being a staging script run in the wrong terminal. Each environment's
facts sit in a `case` block; nothing is derived at run time that the plan already knows.
"""

from __future__ import annotations

from collections.abc import Iterable

from bizinfra.naming import ROLLOUT_TIMEOUT_SECONDS, kubectl_duration
from bizinfra.plan import EnvironmentPlan, ServicePlan

ROLLOUT_TIMEOUT = kubectl_duration(ROLLOUT_TIMEOUT_SECONDS)

PREAMBLE = """set -euo pipefail

fail() {
  echo "$(basename "$0"): $*" >&2
  exit 2
}
"""


def environments_line(envs: Iterable[EnvironmentPlan]) -> str:
    return ", ".join(env.name for env in envs)


def case_arms(arms: dict[str, list[str]], indent: str = "  ") -> str:
    """`pattern) statements ;;` lines, in the given order."""
    lines = []
    for pattern, statements in arms.items():
        lines.append(f"{indent}{pattern})")
        lines += [f"{indent}  {statement}" for statement in statements]
        lines.append(f"{indent}  ;;")
    return "\n".join(lines)


def environment_facts(envs: tuple[EnvironmentPlan, ...]) -> str:
    """Sets cluster, region and namespace for the chosen environment."""
    arms = {f'"{env.name}"': [f'cluster="{env.cluster_name}"', f'region="{env.region}"', f'namespace="{env.namespace}"']
            for env in envs}
    arms["*"] = [f'fail "unknown environment \'$environment\'; one of: {environments_line(envs)}"']
    return f"""case "$environment" in
{case_arms(arms)}
esac
"""


# kubectl runs against the context named after the cluster, never whatever context is current.
KUBECTL_CONTEXT = """if ! kubectl config get-contexts "$cluster" >/dev/null 2>&1; then
  echo "no kubectl context '$cluster'; create it with:" >&2
  echo "  aws eks update-kubeconfig --region $region --name $cluster --alias $cluster" >&2
  exit 1
fi
"""


def rollback_script(envs: tuple[EnvironmentPlan, ...]) -> str:
    services = sorted({service.name for env in envs for service in env.services})
    arms: dict[str, list[str]] = {}
    for env in envs:
        for service in env.services:
            for slot, deployment in deployment_slots(service):
                arms[f'"{env.name}/{service.name}/{slot}"'] = [f'deployment="{deployment}"']
    blue_green = [env.name for env in envs if env.rollout == "blue-green"]
    slot_help = ""
    if blue_green:
        slot_help = f"  slot         blue or green: which Deployment to roll back, in {', '.join(blue_green)}\n"
    arms["*"] = ['fail "no Deployment for $service${slot:+ slot $slot} in $environment'
                 + (f'; {", ".join(blue_green)} needs a slot (blue or green)' if blue_green else "") + '"']
    return f"""#!/usr/bin/env bash
# Roll a service's Deployment back to an earlier revision, then wait until the rollout is done.
{PREAMBLE}
usage() {{
  cat <<'EOF'
Usage: rollback.sh ENVIRONMENT SERVICE REVISION [SLOT]

  environment  {environments_line(envs)}
  service      {", ".join(services)}
  revision     a revision number from: kubectl rollout history deployment/NAME
{slot_help}EOF
}}

if [[ $# -lt 3 || $# -gt 4 ]]; then
  usage >&2
  exit 2
fi
environment="$1"
service="$2"
revision="$3"
slot="${{4:-}}"

{environment_facts(envs)}
case "$service" in
  {"|".join(f'"{name}"' for name in services)}) ;;
  *) fail "unknown service '$service'; one of: {", ".join(services)}" ;;
esac
if [[ ! "$revision" =~ ^[1-9][0-9]*$ ]]; then
  fail "revision must be a positive number (got '$revision')"
fi

case "$environment/$service/$slot" in
{case_arms(arms)}
esac

{KUBECTL_CONTEXT}
# Blue-green's idle slot runs no pods: undoing it would report success and change nothing that serves traffic.
replicas="$(kubectl --context "$cluster" --namespace "$namespace" get "deployment/$deployment" \\
  --output 'jsonpath={{.spec.replicas}}')"
if [[ "${{replicas:-0}}" == "0" ]]; then
  fail "deployment/$deployment runs no replicas (an idle slot?); roll back the slot the Service selects"
fi
kubectl --context "$cluster" --namespace "$namespace" rollout undo "deployment/$deployment" --to-revision="$revision"
kubectl --context "$cluster" --namespace "$namespace" rollout status "deployment/$deployment" --timeout={ROLLOUT_TIMEOUT}
"""


def deployment_slots(service: ServicePlan) -> list[tuple[str, str]]:
    """(slot, Deployment) pairs; the slot is empty for a service with a single Deployment."""
    return list(service.slots.items()) or [("", service.name)]


def backup_script(envs: tuple[EnvironmentPlan, ...]) -> str:
    arms: dict[str, list[str]] = {}
    for env in envs:
        # each database dumped as the role owning it, whose secret holds its credentials
        rows = [f"{store.name} {store.host} {store.port} {role.credentials} {role.database}"
                for store in env.datastores if store.engine == "postgres" for role in store.roles]
        arm = arms[f'"{env.name}"'] = [f'bucket="{env.backups.bucket}"', f'keep_days="{env.backups.keep_days}"',
                                       f'region="{env.region}"', "databases=("]
        arm += [f'  "{row}"' for row in rows] + [")"]
    arms["*"] = [f'fail "unknown environment \'$environment\'; one of: {environments_line(envs)}"']
    return f"""#!/usr/bin/env bash
# Dump PostgreSQL databases, gzip them straight into the environment's backup bucket, and delete
# dumps older than the retention. Run it where the database is reachable (inside the VPC).
# Needs: aws, jq, pg_dump (the server's major version or newer), gzip, GNU date.
{PREAMBLE}
usage() {{
  cat <<'EOF'
Usage: db-backup.sh ENVIRONMENT [DATABASE...]

  environment  {environments_line(envs)}
  database     only these databases (default: every database of every PostgreSQL store)
EOF
}}

if [[ $# -lt 1 ]]; then
  usage >&2
  exit 2
fi
environment="$1"
shift
wanted=" $* "

case "$environment" in
{case_arms(arms)}
esac

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
dumped=0
for row in "${{databases[@]}}"; do
  read -r store host port credentials database <<<"$row"
  if [[ "$wanted" != "  " && "$wanted" != *" $database "* ]]; then
    continue
  fi
  secret="$(aws secretsmanager get-secret-value --region "$region" --secret-id "$credentials" \\
    --query SecretString --output text)"
  username="$(jq -r .username <<<"$secret")"
  key="database/$store/$database/${{database}}_$stamp.sql.gz"
  echo "dumping $database from $host:$port to s3://$bucket/$key"
  PGPASSWORD="$(jq -r .password <<<"$secret")" \\
    pg_dump --host "$host" --port "$port" --username "$username" --dbname "$database" --no-owner \\
    | gzip \\
    | aws s3 cp - "s3://$bucket/$key" --region "$region"
  dumped=$((dumped + 1))
done
if [[ "$dumped" -eq 0 ]]; then
  fail "no database matched '$*' in $environment"
fi

# Retention: ISO-8601 times compare correctly as text.
cutoff="$(date -u -d "-$keep_days days" +%Y-%m-%dT%H:%M:%S)"
aws s3api list-objects-v2 --region "$region" --bucket "$bucket" --prefix database/ \\
  --query 'Contents[].[LastModified, Key]' --output text \\
  | while read -r modified key; do
      if [[ -n "$key" && "$modified" < "$cutoff" ]]; then
        aws s3 rm --region "$region" "s3://$bucket/$key"
      fi
    done
"""


# Connects to HOST PORT from inside a pod, with the service's own network policy, using the node
# the image already has (its busybox nc cannot be relied on for -z).
_TCP_CHECK = ('const [host, port] = process.argv.slice(1); '
              'const socket = require("net").connect(Number(port), host); socket.setTimeout(5000); '
              'socket.on("connect", () => { console.log("connected to " + host + ":" + port); process.exit(0); }); '
              'socket.on("timeout", () => { console.error("timed out"); process.exit(1); }); '
              'socket.on("error", (error) => { console.error(error.message); process.exit(1); });')


def debug_script(envs: tuple[EnvironmentPlan, ...]) -> str:
    stores = sorted({store.name for env in envs for store in env.datastores})
    arms: dict[str, list[str]] = {}
    for env in envs:
        for store in env.datastores:
            users = [env.service(name) for name in store.users]
            # Any running pod of the first user, whichever slot it belongs to: an idle slot has none.
            selector = ",".join(f"{k}={v}" for k, v in users[0].selector.items()) if users else ""
            arms[f'"{env.name}/{store.name}"'] = [
                f'engine="{store.engine}"', f'identifier="{store.identifier}"', f'host="{store.host}"',
                f'port="{store.port}"', f'client="{users[0].name if users else ""}"', f'selector="{selector}"']
    arms["*"] = [f'fail "no data store \'$store\' in $environment; one of: {", ".join(stores)}"']
    return f"""#!/usr/bin/env bash
# Why can't the services reach a data store? Its AWS status, its security groups' rules, and a TCP
# connection from a pod of a service that uses it (so through that service's network policy).
{PREAMBLE}
usage() {{
  cat <<'EOF'
Usage: debug-db.sh ENVIRONMENT STORE

  environment  {environments_line(envs)}
  store        {", ".join(stores)}
EOF
}}

if [[ $# -ne 2 ]]; then
  usage >&2
  exit 2
fi
environment="$1"
store="$2"

{environment_facts(envs)}
case "$environment/$store" in
{case_arms(arms)}
esac

{KUBECTL_CONTEXT}
echo "== $store ($engine, $identifier) in $region"
if [[ "$engine" == "postgres" ]]; then
  aws rds describe-db-instances --region "$region" --db-instance-identifier "$identifier" \\
    --query 'DBInstances[0].{{status: DBInstanceStatus, endpoint: Endpoint.Address, multiAZ: MultiAZ}}' \\
    --output table
  groups="$(aws rds describe-db-instances --region "$region" --db-instance-identifier "$identifier" \\
    --query 'DBInstances[0].VpcSecurityGroups[].VpcSecurityGroupId' --output text)"
else
  aws elasticache describe-replication-groups --region "$region" --replication-group-id "$identifier" \\
    --query 'ReplicationGroups[0].{{status: Status, failover: AutomaticFailover, nodes: length(MemberClusters)}}' \\
    --output table
  member="$(aws elasticache describe-replication-groups --region "$region" --replication-group-id "$identifier" \\
    --query 'ReplicationGroups[0].MemberClusters[0]' --output text)"
  groups="$(aws elasticache describe-cache-clusters --region "$region" --cache-cluster-id "$member" \\
    --query 'CacheClusters[0].SecurityGroups[].SecurityGroupId' --output text)"
fi

echo "== security groups: $groups"
read -r -a group_ids <<<"$groups"
aws ec2 describe-security-groups --region "$region" --group-ids "${{group_ids[@]}}" \\
  --query 'SecurityGroups[].IpPermissions[].{{port: FromPort, groups: UserIdGroupPairs[].GroupId}}' \\
  --output table

if [[ -z "$client" ]]; then
  echo "no service uses $store in $environment; skipping the connection test"
  exit 0
fi
pods="$(kubectl --context "$cluster" --namespace "$namespace" get pods --selector "$selector" \\
  --field-selector status.phase=Running --output 'jsonpath={{.items[*].metadata.name}}')"
pod="${{pods%% *}}"
if [[ -z "$pod" ]]; then
  echo "no running pod of $client in $environment to test the connection from" >&2
  exit 1
fi
echo "== connecting to $host:$port from pod/$pod ($client)"
kubectl --context "$cluster" --namespace "$namespace" exec "$pod" -- \\
  node -e '{_TCP_CHECK}' "$host" "$port"
"""
