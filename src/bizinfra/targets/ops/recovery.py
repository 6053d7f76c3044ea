"""Restore, rehearsed: the recovery runbooks and the drill script that proves the latest backups restore.

The drill restores the namespace's latest Velero backup into a scratch namespace and each PostgreSQL store's latest
restorable time into a scratch instance, compares them with the live ones (Services and ConfigMaps; tables per
database, counted by a pod that reads the restored credentials), and removes everything it made on every exit, a
failed step and an interrupt included.
"""

from __future__ import annotations

import json

from bizinfra.naming import VELERO
from bizinfra.plan import DatastorePlan, EnvironmentPlan, PlatformPlan
from bizinfra.targets.ops.scripts import KUBECTL_CONTEXT, PREAMBLE, case_arms, environments_line

RECOVERY_DOCS = "docs/recovery"
DRILL = "scripts/restore-drill.sh"
# What a namespace restore must not bring back into a scratch namespace: anything that runs the services (their pods
# would reach the live data stores) or takes traffic (a TargetGroupBinding registers pods in the live target groups).
NOT_RESTORED = ("pods", "replicasets.apps", "deployments.apps", "jobs.batch", "horizontalpodautoscalers.autoscaling",
                "poddisruptionbudgets.policy", "targetgroupbindings.elbv2.k8s.aws", "externalsecrets.external-secrets.io")
COMPARED = ("services", "configmaps", "secrets", "networkpolicies.networking.k8s.io")
HOST = "@HOST@"  # the drill puts the live or the restored endpoint here
CHECK_UID = 70  # the postgres alpine image's own user: the namespaces enforce the restricted pod security standard


def schedule_name(env: EnvironmentPlan) -> str:
    """The Velero Schedule of the namespace (kubernetes/addons.py `backup_schedule`)."""
    return f"{env.namespace}-backup"


def velero_namespace(env: EnvironmentPlan) -> str:
    return next(identity.namespace for identity in env.identities if identity.name == VELERO)


def recovery_artifacts(plan: PlatformPlan) -> dict[str, str]:
    """Path -> text: the runbooks and the drill script, for the platform's Kubernetes environments."""
    clusters = plan.on("kubernetes")
    if not clusters:
        return {}
    pages = {f"{RECOVERY_DOCS}/namespace-restore.md": namespace_page(clusters)}
    if any(store.engine == "postgres" for env in clusters for store in env.datastores):
        pages[f"{RECOVERY_DOCS}/database-restore.md"] = database_page(clusters)
    standbys = tuple(env for env in clusters if env.recovery.standby)
    if standbys:
        pages[f"{RECOVERY_DOCS}/region-failover.md"] = failover_page(standbys)
    return {**pages, DRILL: drill_script(clusters)}


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:g}h"


def _objectives(env: EnvironmentPlan) -> str:
    return f"RPO {_hours(env.recovery.rpo_seconds)}, RTO {_hours(env.recovery.rto_seconds)}"


def database_page(envs: tuple[EnvironmentPlan, ...]) -> str:
    lines = ["# Restore a database to a point in time", "",
             "RDS keeps every PostgreSQL store's automated backups and transaction logs for `backups.keep` (at most 35 "
             "days), so a restore reaches any second up to about five minutes ago. A restore never overwrites: it "
             "builds a new instance, which then takes the old one's place under the store's private DNS name.", ""]
    for env in envs:
        for store in (s for s in env.datastores if s.engine == "postgres"):
            lines += [f"## {env.name}: {store.name} ({_objectives(env)})", "", "```sh",
                      "# 1. the restorable window", f"aws rds describe-db-instances --region {env.region} "
                      f"--db-instance-identifier {store.identifier} --query "
                      "'DBInstances[0].[LatestRestorableTime, BackupRetentionPeriod]' --output text",
                      "# 2. restore to a time before the damage (UTC), beside the live instance",
                      f"aws rds restore-db-instance-to-point-in-time --region {env.region} "
                      f"--source-db-instance-identifier {store.identifier} "
                      f"--target-db-instance-identifier {store.identifier}-restored "
                      f"--restore-time 2024-01-01T00:00:00Z --db-subnet-group-name {store.identifier} "
                      f"--vpc-security-group-ids \"$(aws rds describe-db-instances --region {env.region} "
                      f"--db-instance-identifier {store.identifier} --query "
                      "'DBInstances[0].VpcSecurityGroups[0].VpcSecurityGroupId' --output text)\" "
                      "--no-publicly-accessible",
                      f"aws rds wait db-instance-available --region {env.region} "
                      f"--db-instance-identifier {store.identifier}-restored",
                      "```", "",
                      f"3. Check it as the drill does (`{DRILL} {env.name}` restores the latest time into a scratch "
                      "instance and compares the tables).",
                      f"4. Swap the names: rename the live instance to `{store.identifier}-old`, the restored one to "
                      f"`{store.identifier}` (`aws rds modify-db-instance --new-db-instance-identifier ... "
                      "--apply-immediately`), so Terraform's state and the private record "
                      f"`{store.host}` find it; run `terraform apply` in `terraform/{env.name}/`, then restart the "
                      "services that use it (`kubectl rollout restart deployment`).", ""]
    return "\n".join(lines)


def namespace_page(envs: tuple[EnvironmentPlan, ...]) -> str:
    lines = ["# Restore the namespace from Velero", "",
             "Velero backs up the platform's namespace on `backups.schedule` into the backup bucket, kept "
             "`backups.keep`. Its objects come from git, so a deploy rebuilds most of them; a restore brings back "
             "what only the cluster held (the live slot, scaled replicas, objects made by hand).", ""]
    for env in envs:
        velero = f"velero --kubecontext {env.cluster_name} --namespace {velero_namespace(env)}"
        lines += [f"## {env.name}", "", "```sh",
                  f"{velero} backup get --selector velero.io/schedule-name={schedule_name(env)}",
                  f"{velero} restore create --from-backup BACKUP --include-namespaces {env.namespace} --wait",
                  f"{velero} restore describe RESTORE --details",
                  "```", "",
                  f"To look before restoring, `{DRILL} {env.name}` restores the latest backup into a scratch "
                  "namespace (with nothing that runs or takes traffic) and removes it again.", ""]
    return "\n".join(lines)


def replica_buckets_step(env: EnvironmentPlan, region: str) -> list[str]:
    """What the services read there: their secrets by the same names, their buckets by other names. A service finds
    its bucket and region in its ConfigMap, which names this region's; the replicas' names differ (bucket names are
    global), so those are what a failover repoints."""
    kubectl = f"kubectl --context {env.cluster_name} --namespace {env.namespace}"
    lines = ["4. Secrets: every secret of the environment is replicated to "
             f"{region} by Secrets Manager, under the same name (`{env.platform}/{env.name}/...`) and the replicas' "
             f"key (`alias/{env.qualified_name}-replicas`); the External Secrets operator's role reads them there, so "
             "the ExternalSecrets sync as they are. A replica is read-only: to change a value (rotate a password), "
             f"promote it first (`aws secretsmanager stop-replication-to-replica --region {region} --secret-id NAME`); "
             "after failing back, replicate it again.", ""]
    if not env.buckets:
        return lines
    users = sorted({user for plan in env.buckets for user in plan.users})
    lines += ["5. Buckets: each application bucket's replica there holds its objects up to about 15 minutes ago. The "
              "services' roles already grant the replicas and the replicas' key; what must be repointed is the "
              "configuration that names the bucket and the region. A deploy from git writes the primary's values "
              "again: patch after each deploy until failing back. What is written to a replica is not replicated "
              "back: copy it to the primary before failing back.", "",
              "| bucket | variable | replica |", "| --- | --- | --- |",
              *[f"| `{plan.bucket}` | `{plan.variable}` | `{plan.replica}` |" for plan in env.buckets], "", "```sh"]
    for user in users:
        data = {"AWS_REGION": region, **{plan.variable: plan.replica for plan in env.buckets if user in plan.users}}
        service = env.service(user)
        lines.append(f"{kubectl} patch configmap {service.config_map} --type merge "
                     f"--patch '{json.dumps({'data': data}, sort_keys=True)}'")
        if service.deployments:  # a CronJob's next run reads the ConfigMap as it is
            lines.append(f"{kubectl} rollout restart deployment {' '.join(service.deployments)}")
    return [*lines, "```", ""]


def failover_page(envs: tuple[EnvironmentPlan, ...]) -> str:
    lines = ["# Fail over to the standby region", "",
             "When the environment's region is lost. The standby stack (`terraform/<env>/standby/`) was applied "
             "beforehand; it holds the network, the cluster and the database's restore path. The database's "
             "automated backups, the backup bucket and the application buckets are already replicated there.", "",
             "The `<platform>-<env>-origin-failover` alarm pages (from us-east-1) when Route 53 has moved the public "
             "hosts to the standby; `terraform/<env>/alarms.md` says how to tell a lost region from one failing "
             "service.", ""]
    for env in envs:
        standby = env.recovery.standby
        assert standby is not None
        region = standby.region
        kubectl = f"kubectl --context {env.cluster_name}"
        lines += [f"## {env.name}: to {region} ({_objectives(env)})", "",
                  "Beforehand, once: apply the environment's stack, then the standby's:", "", "```sh",
                  f"terraform -chdir=terraform/{env.name}/standby init -backend-config=bucket={env.deploy.state_bucket} "
                  f"-backend-config=region={env.region}",
                  f"terraform -chdir=terraform/{env.name}/standby apply", "```", "",
                  "On the day:", "", "```sh",
                  "# 1. nodes: " + ("the pilot light has none; scale it to the environment's own" if standby.pilot_light
                                    else "the standby keeps its nodes running; check them"),
                  f"aws eks update-kubeconfig --region {region} --name {env.cluster_name} --alias {env.cluster_name}",
                  f"group=\"$(aws eks list-nodegroups --region {region} --cluster-name {env.cluster_name} "
                  "--query 'nodegroups[0]' --output text)\"",
                  f"most=\"$(aws eks describe-nodegroup --region {region} --cluster-name {env.cluster_name} "
                  "--nodegroup-name \"$group\" --query 'nodegroup.scalingConfig.maxSize' --output text)\"",
                  "# all of them at first; the Cluster Autoscaler gives back what the services do not need",
                  f"aws eks update-nodegroup-config --region {region} --cluster-name {env.cluster_name} "
                  "--nodegroup-name \"$group\" --scaling-config \"minSize=1,desiredSize=$most,maxSize=$most\""]
        for store in (s for s in env.datastores if s.engine == "postgres"):
            lines += [f"# 2. {store.name}: restore the replicated backups to their latest time",
                      f"arn=\"$(aws rds describe-db-instance-automated-backups --region {region} "
                      f"--db-instance-identifier {store.identifier} "
                      "--query 'DBInstanceAutomatedBackups[0].DBInstanceAutomatedBackupsArn' --output text)\"",
                      f"aws rds restore-db-instance-to-point-in-time --region {region} "
                      f"--source-db-instance-automated-backups-arn \"$arn\" --target-db-instance-identifier "
                      f"{store.identifier} --use-latest-restorable-time --db-subnet-group-name {store.identifier} "
                      f"--db-parameter-group-name {store.identifier} --vpc-security-group-ids "
                      f"\"$(terraform -chdir=terraform/{env.name}/standby output -raw "
                      f"{store.name.replace('-', '_')}_security_group_id)\" --no-publicly-accessible "
                      f"--storage-encrypted --kms-key-id alias/{env.platform}-{standby.name}"]
        lines += ["# 3. the cluster add-ons (the addons stack, with the standby's cluster), then the namespace from "
                  "the replicated Velero backups, then a deploy of the release that ran",
                  f"velero --kubecontext {env.cluster_name} restore create --from-backup BACKUP "
                  f"--include-namespaces {env.namespace} --wait",
                  f"{kubectl} --namespace {env.namespace} get deployments", "```", "",
                  *replica_buckets_step(env, region),
                  f"{6 if env.buckets else 5}. DNS: the private zone `{env.private_zone}` of the standby VPC gets "
                  "each store's record "
                  "(the restored endpoint). The public hosts move by themselves: CloudFront reaches the "
                  f"environment by `origin-{env.name}.{env.domain}`, which Route 53 answers with the standby's load "
                  "balancer while this region's health check fails; its target groups fill as the deploy's pods "
                  "become ready.", ""]
    return "\n".join(lines)


# -- the drill ------------------------------------------------------------------------------------------------------


def check_overrides(env: EnvironmentPlan, store: DatastorePlan, database: str, secret: str) -> str:
    """The pod that counts a database's tables, reading the credentials from a service's restored Secret (the script
    never holds them), as the restricted pod security standard requires it to run."""
    count = "select count(*) from information_schema.tables where table_schema = current_schema()"  # no quotes
    container = {
        "name": "check",
        "image": f"postgres:{store.version.split('.')[0]}-alpine",
        "command": ["psql", "--no-psqlrc", "--tuples-only", "--no-align", "--command", count],
        "env": [{"name": "PGHOST", "value": HOST}, {"name": "PGPORT", "value": str(store.port)},
                {"name": "PGDATABASE", "value": database}, {"name": "PGSSLMODE", "value": "require"},
                *({"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": f"{store.env_prefix}_{key}"}}}
                  for variable, key in (("PGUSER", "USERNAME"), ("PGPASSWORD", "PASSWORD")))],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "runAsNonRoot": True, "runAsUser": CHECK_UID},
    }
    return json.dumps({"apiVersion": "v1", "spec": {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                                                    "containers": [container]}}, sort_keys=True)


def _drill_arms(envs: tuple[EnvironmentPlan, ...]) -> dict[str, list[str]]:
    arms: dict[str, list[str]] = {}
    for env in envs:
        arm = [f'cluster="{env.cluster_name}"', f'region="{env.region}"', f'namespace="{env.namespace}"',
               f'velero_namespace="{velero_namespace(env)}"', f'schedule="{schedule_name(env)}"',
               f'instance_class="{env.sizes.database}"', "databases=("]
        for store in (s for s in env.datastores if s.engine == "postgres"):
            bootstrap = next(b for b in env.database_bootstraps if b.store == store.name)
            labels = ",".join(f"{key}={value}" for key, value in sorted(bootstrap.selector.items()))
            for role in store.roles:  # each database counted as its own role, the only one that may connect
                overrides = check_overrides(env, store, role.database, env.service(role.users[0]).secret_name)
                arm.append(f"  '{store.identifier} {role.database} {labels} {overrides}'")
        arms[f'"{env.name}"'] = [*arm, ")"]
    arms["*"] = [f'fail "unknown environment \'$environment\'; one of: {environments_line(envs)}"']
    return arms


def drill_script(envs: tuple[EnvironmentPlan, ...]) -> str:
    compared = " ".join(COMPARED)
    return f"""#!/usr/bin/env bash
# Restore drill: restore the latest Velero backup of the namespace into a scratch namespace and each PostgreSQL
# database's latest restorable time into a scratch instance, compare them with the live ones, then remove
# everything it made, whatever happened. Exit 0 only when every restore completed and matched.
# Needs: aws, kubectl, velero.
{PREAMBLE}
usage() {{
  cat <<'EOF'
Usage: restore-drill.sh ENVIRONMENT

  environment  {environments_line(envs)}
EOF
}}

if [[ $# -ne 1 ]]; then
  usage >&2
  exit 2
fi
environment="$1"

case "$environment" in
{case_arms(_drill_arms(envs))}
esac

{KUBECTL_CONTEXT}
stamp="$(date -u +%m%d%H%M%S)"
scratch="$namespace-drill-$stamp"
restore="$namespace-drill-$stamp"
instances=()
restored=""

# Runs on every exit: each step is tried even when an earlier one fails, and a failed cleanup fails the drill.
cleanup() {{
  local status=$? left=0 instance
  trap - EXIT INT TERM
  for instance in "${{instances[@]}}"; do
    aws rds delete-db-instance --region "$region" --db-instance-identifier "$instance" \\
      --skip-final-snapshot --delete-automated-backups >/dev/null || left=1
  done
  if [[ -n "$restored" ]]; then
    velero --kubecontext "$cluster" --namespace "$velero_namespace" restore delete "$restore" --confirm || left=1
  fi
  kubectl --context "$cluster" delete namespace "$scratch" --ignore-not-found --wait=false || left=1
  if [[ "$left" -ne 0 ]]; then
    echo "restore-drill: cleanup incomplete; remove what is left of drill $stamp by hand" >&2
    [[ "$status" -ne 0 ]] || status=1
  fi
  exit "$status"
}}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- the namespace --------------------------------------------------------------------------------------------------
backup="$(kubectl --context "$cluster" --namespace "$velero_namespace" get backups.velero.io \\
  --selector "velero.io/schedule-name=$schedule" --sort-by .metadata.creationTimestamp \\
  --output 'jsonpath={{.items[-1:].metadata.name}}')"
if [[ -z "$backup" ]]; then
  echo "restore-drill: no backup of schedule $schedule yet" >&2
  exit 1
fi
echo "== restoring backup $backup into namespace $scratch"
restored="yes"
velero --kubecontext "$cluster" --namespace "$velero_namespace" restore create "$restore" \\
  --from-backup "$backup" --include-namespaces "$namespace" --namespace-mappings "$namespace:$scratch" \\
  --exclude-resources "{",".join(NOT_RESTORED)}" --wait
phase="$(kubectl --context "$cluster" --namespace "$velero_namespace" get restores.velero.io "$restore" \\
  --output 'jsonpath={{.status.phase}}')"
if [[ "$phase" != "Completed" ]]; then
  echo "restore-drill: restore $restore ended $phase" >&2
  exit 1
fi
for kind in {compared}; do
  live="$(kubectl --context "$cluster" --namespace "$namespace" get "$kind" --output name | wc -l)"
  copy="$(kubectl --context "$cluster" --namespace "$scratch" get "$kind" --output name | wc -l)"
  echo "$kind: $live live, $copy restored"
  if [[ "$copy" -lt "$live" ]]; then
    echo "restore-drill: the backup restored $copy $kind of the $live the namespace has" >&2
    exit 1
  fi
done

# -- the databases --------------------------------------------------------------------------------------------------
count_tables() {{
  local where="$1" host="$2" labels="$3" overrides="$4" name="drill-check-$RANDOM"
  kubectl --context "$cluster" --namespace "$where" run "$name" --image=postgres --restart=Never --rm --attach \\
    --quiet --labels "$labels" --overrides "${{overrides/@HOST@/$host}}" --pod-running-timeout=5m
}}

endpoint() {{
  aws rds describe-db-instances --region "$region" --db-instance-identifier "$1" \\
    --query 'DBInstances[0].Endpoint.Address' --output text
}}

declare -A started=()
for row in "${{databases[@]}}"; do
  read -r identifier database labels overrides <<<"$row"
  drill="$identifier-drill-$stamp"
  if [[ -z "${{started[$identifier]:-}}" ]]; then
    started[$identifier]="yes"
    groups="$(aws rds describe-db-instances --region "$region" --db-instance-identifier "$identifier" \\
      --query 'DBInstances[0].VpcSecurityGroups[].VpcSecurityGroupId' --output text)"
    read -r -a group_ids <<<"$groups"
    echo "== restoring $identifier to its latest restorable time as $drill"
    instances+=("$drill")
    aws rds restore-db-instance-to-point-in-time --region "$region" --source-db-instance-identifier "$identifier" \\
      --target-db-instance-identifier "$drill" --use-latest-restorable-time --db-subnet-group-name "$identifier" \\
      --vpc-security-group-ids "${{group_ids[@]}}" --db-instance-class "$instance_class" --no-multi-az \\
      --no-publicly-accessible --tags "Key=bizinfra-drill,Value=$stamp" >/dev/null
    aws rds wait db-instance-available --region "$region" --db-instance-identifier "$drill"
  fi
  live="$(count_tables "$namespace" "$(endpoint "$identifier")" "$labels" "$overrides")"
  copy="$(count_tables "$scratch" "$(endpoint "$drill")" "$labels" "$overrides")"
  echo "$database: $live tables live, $copy restored"
  if [[ -z "$copy" || "$copy" != "$live" ]]; then
    echo "restore-drill: $database restored with ${{copy:-no}} tables; the live one has $live" >&2
    exit 1
  fi
done
echo "restore drill of $environment passed"
"""
