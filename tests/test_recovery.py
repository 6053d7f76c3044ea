"""Recovery: objectives the loader holds to what the backups can meet, the backups and second region derived from
them (judged by the provider schemas), and the restore drill run against state-keeping stand-ins."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from bizinfra.plan import EnvironmentPlan, PlatformPlan, resolve
from bizinfra.plan.resolve import aws_backup_cron
from bizinfra.spec.loader import SpecError, load_platform
from bizinfra.spec.models import Platform
from bizinfra.targets.ops.recovery import drill_script
from bizinfra.targets.terraform import environment_files
from bizinfra.targets.terraform.datastores import backup_days
from bizinfra.targets.terraform.recovery import standby_files
from bizinfra.validate.terraform import SCHEMA_VERSIONS, check_folder, load_schema
from tests.strategies import platforms
from tests.support import SPECS, require_tool

STANDINS = Path(__file__).resolve().parent / "support" / "standins"


def bundled() -> PlatformPlan:
    return resolve(load_platform(SPECS / "business-app.yaml"), "specs/business-app.yaml")


def resources(files: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for document in files.values():
        found.update((document.get("resource") or {}).get(kind, {}))
    return found


# -- the spec ---------------------------------------------------------------------------------------------------------


def load(tmp_path: Path, recovery: str, region: str = "eu-west-1") -> Platform:
    spec = tmp_path / "shop.yaml"
    spec.write_text(f"name: shop\ndomain: shop.example.com\nregion: {region}\nservices:\n  web: {{port: 8080}}\n"
                    f"environments:\n  production:\n    branch: main\n    recovery: {recovery}\n")
    return load_platform(spec)


@pytest.mark.parametrize(("recovery", "expected"), [
    ("{rpo: 1m}", "shop.yaml:9:21: environments.production.recovery.rpo: 1m is shorter than the 5m the backups can "
                  "meet: RDS uploads transaction logs every 5 minutes"),
    ("{rpo: 10m, region: eu-central-1}",
     "shop.yaml:9:21: environments.production.recovery.rpo: 10m is shorter than the 15m the backups can meet in a "
     "second region (eu-central-1): S3 Replication Time Control replicates within 15 minutes"),
    ("{rto: 20m}", "shop.yaml:9:21: environments.production.recovery.rto: 20m is shorter than the 30m a restore needs: "
                   "a point-in-time restore builds a new database instance"),
    ("{region: eu-west-1}", "shop.yaml:9:24: environments.production.recovery.region: 'eu-west-1' is the platform's "
                            "own region; name another one"),
    ("{region: us-gov-east-1}", "shop.yaml:9:24: environments.production.recovery.region: 'us-gov-east-1' is in "
                                "another AWS partition than 'eu-west-1'; backups cannot be replicated across "
                                "partitions"),
])
def test_objectives_the_backups_cannot_meet_are_refused_at_their_line(tmp_path: Path, recovery: str,
                                                                      expected: str) -> None:
    with pytest.raises(SpecError) as error:
        load(tmp_path, recovery)
    assert [str(problem).removeprefix(f"{tmp_path}/") for problem in error.value.problems] == [expected]


def test_defaults_differ_for_production_and_the_floors_are_accepted(tmp_path: Path) -> None:
    plan = resolve(load(tmp_path, "{rpo: 15m, rto: 30m, region: eu-central-1}"), "shop.yaml")
    production = next(env for env in plan.environments if env.name == "production")
    assert (production.recovery.rpo_seconds, production.recovery.rto_seconds) == (900, 1800)
    assert production.recovery.standby and not production.recovery.standby.pilot_light  # 30m: no time to scale up
    staging = resolve(load_platform(SPECS / "shop.yaml"), "shop.yaml").environments[-1]
    assert (staging.recovery.rpo_seconds, staging.recovery.rto_seconds, staging.recovery.standby) == \
        (3600, 4 * 3600, None)


@pytest.mark.parametrize(("schedule", "expected"), [
    ("0 2 * * *", "cron(0 2 * * ? *)"),
    ("*/30 * * * *", "cron(0 * * * ? *)"),  # AWS Backup runs at most hourly
    ("15 3 * * 1-5", "cron(15 3 ? * 2-6 *)"),  # Monday to Friday: AWS counts Sunday as 1
    ("30 3 1 * *", "cron(30 3 1 * ? *)"),
    ("0 */6 * * SUN", "cron(0 0/6 ? * SUN *)"),
    ("0 0 1 */3 0", "cron(0 0 * 1/3 ? *)"),  # either day: AWS cannot say it, so every day
])
def test_aws_backup_runs_the_spec_s_schedule(schedule: str, expected: str) -> None:
    assert aws_backup_cron(schedule) == expected


# -- what the objectives derive ---------------------------------------------------------------------------------------


def check_recovery(env: EnvironmentPlan) -> None:
    files = environment_files(env)
    postgres = [store for store in env.datastores if store.engine == "postgres"]
    plans = resources(files, "aws_backup_plan")
    assert bool(plans) == bool(postgres)
    for backup_plan in plans.values():
        (rule,) = backup_plan["rule"]
        assert (rule["schedule"], rule["lifecycle"]["delete_after"]) == (env.recovery.snapshot_schedule,
                                                                          env.backups.keep_days)
        assert ("copy_action" in rule) == (env.recovery.standby is not None)
    check_bucket_replication(env, files)
    standby, replicated = env.recovery.standby, resources(files, "aws_db_instance_automated_backups_replication")
    if standby is None:
        assert replicated == {} and standby_files(env) == {}
        return
    assert {name: (r["provider"], r["retention_period"]) for name, r in replicated.items()} == \
        {store.name: ("aws.standby", backup_days(env)) for store in postgres}
    assert files["recovery.tf.json"]["provider"]["aws"]["region"] == standby.region
    assert resources(files, "aws_s3_bucket")["backups_replica"]["bucket"] == standby.bucket
    site = standby_files(env)
    assert site["main.tf.json"]["provider"]["aws"]["region"] == standby.region
    (group,) = resources(site, "aws_eks_node_group").values()
    assert group["scaling_config"]["min_size"] == (0 if standby.pilot_light else env.nodes.min)
    assert standby.pilot_light == (env.recovery.rto_seconds >= 2 * 3600)
    assert set(resources(site, "aws_db_subnet_group")) == {store.name for store in postgres}
    assert site["versions.tf.json"]["terraform"]["backend"]["s3"]["key"] == standby.state_key
    for version in SCHEMA_VERSIONS:
        assert check_folder(site, load_schema(version)) == []


def check_bucket_replication(env: EnvironmentPlan, files: dict[str, Any]) -> None:
    """With a second region, the backup bucket and every application bucket replicate, deletions and SSE-KMS objects
    included, to a replica there that is private, versioned, under the replicas' key, TLS only and with the bucket's
    own lifecycle; without one, no replica and no replication."""
    buckets = resources(files, "aws_s3_bucket")
    configurations = resources(files, "aws_s3_bucket_replication_configuration")
    replicas = {label: body for label, body in buckets.items() if label.endswith("_replica")}
    standby = env.recovery.standby
    if standby is None:
        assert replicas == {} and configurations == {}
        assert all(plan.replica is None for plan in env.buckets)
        return
    expected = {"backups": "backups_replica"} | {f"app_{plan.name.replace('-', '_')}":
                                                  f"app_{plan.name.replace('-', '_')}_replica" for plan in env.buckets}
    assert {label: body["bucket"] for label, body in configurations.items()} == \
        {label: f"${{aws_s3_bucket.{label}.id}}" for label in expected}
    assert set(replicas) == set(expected.values())
    for plan in env.buckets:
        label = f"app_{plan.name.replace('-', '_')}"
        replica = f"{label}_replica"
        assert replicas[replica] == {"bucket": plan.replica, "force_destroy": not env.production,
                                     "tags": {"Name": plan.replica}, "provider": "aws.standby"}
        assert plan.replica and plan.replica != plan.bucket and len(plan.replica) <= 63
        (rule,) = configurations[label]["rule"]
        assert rule["delete_marker_replication"] == {"status": "Enabled"}
        assert rule["source_selection_criteria"] == {"sse_kms_encrypted_objects": {"status": "Enabled"}}
        assert rule["destination"]["bucket"] == f"${{aws_s3_bucket.{replica}.arn}}"
        assert rule["destination"]["encryption_configuration"] == {"replica_kms_key_id": "${aws_kms_key.standby.arn}"}
        assert configurations[label]["depends_on"] == [f"aws_s3_bucket_versioning.{label}",
                                                      f"aws_s3_bucket_versioning.{replica}"]
        for kind in ("aws_s3_bucket_versioning", "aws_s3_bucket_public_access_block", "aws_s3_bucket_policy",
                     "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_lifecycle_configuration"):
            assert resources(files, kind)[replica]["provider"] == "aws.standby", kind
        (encryption,) = resources(files, "aws_s3_bucket_server_side_encryption_configuration")[replica]["rule"]
        assert encryption["apply_server_side_encryption_by_default"]["kms_master_key_id"] == \
            "${aws_kms_key.standby.arn}"
        lifecycle = resources(files, "aws_s3_bucket_lifecycle_configuration")
        assert lifecycle[replica]["rule"] == lifecycle[label]["rule"]
    for configuration in configurations.values():
        destination = configuration["rule"][0]["destination"]
        assert destination["replication_time"] == {"status": "Enabled", "time": {"minutes": 15}}
        assert configuration["role"] == "${aws_iam_role.replication.arn}"


def test_the_bundled_production_recovers_in_a_second_region() -> None:
    production = next(env for env in bundled().environments if env.name == "production")
    assert production.recovery.standby and production.recovery.standby.region == "ap-southeast-1"
    check_recovery(production)


@settings(max_examples=25)
@given(platforms(max_services=3))
def test_random_platforms_derive_backups_and_standby_from_their_objectives(platform: Platform) -> None:
    for env in resolve(platform, "spec.yaml").on("kubernetes"):
        check_recovery(env)


# -- the restore drill ------------------------------------------------------------------------------------------------

LIVE = "business-app-production-postgres"
DATABASES = ("auth_service", "business_service", "inventory_service", "invoice_service")


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Path:
    script = tmp_path_factory.mktemp("drill") / "restore-drill.sh"
    script.write_text(drill_script(bundled().on("kubernetes")))
    script.chmod(0o755)
    return script


def run_drill(drill: Path, tmp_path: Path, **state: Any) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The drill against the stand-ins, from a production with one backup, its namespace's objects and a database."""
    world = {
        "backups": ["business-app-backup-20250101020000"],
        "namespaces": {"business-app": {"services": 5, "configmaps": 7, "secrets": 6,
                                        "networkpolicies.networking.k8s.io": 9}},
        "instances": {LIVE: {"endpoint": "live.rds.example", "groups": ["sg-1", "sg-2"],
                             "tables": dict.fromkeys(DATABASES, 4)}},
        **state,
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps(world))
    bash = require_tool("bash")
    result = subprocess.run([bash, str(drill), "production"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PATH": f"{STANDINS}{os.pathsep}{os.environ['PATH']}",
                                 "STANDIN_STATE": str(path)})
    return result, json.loads(path.read_text())


def left_behind(state: dict[str, Any]) -> list[str]:
    """What a drill made and did not remove."""
    return sorted([*(name for name in state["instances"] if "-drill-" in name),
                   *(name for name in state["namespaces"] if "-drill-" in name), *state.get("restores", {})])


def test_the_drill_restores_compares_and_removes_what_it_made(drill: Path, tmp_path: Path) -> None:
    result, state = run_drill(drill, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "restore drill of production passed" in result.stdout
    assert left_behind(state) == []
    restores = [call for call in state["calls"] if "restore-db-instance-to-point-in-time" in call]
    assert len(restores) == 1 and "--use-latest-restorable-time" in restores[0] and "sg-1 sg-2" in restores[0]
    (velero,) = [call for call in state["calls"] if call.startswith("velero") and "restore create" in call]
    assert "--namespace-mappings business-app:business-app-drill-" in velero
    assert "deployments.apps" in velero and "targetgroupbindings.elbv2.k8s.aws" in velero  # nothing that runs
    assert sum("kubectl" in call and " run " in call for call in state["calls"]) == 2 * len(DATABASES)
    for database in DATABASES:  # each counted as its own role, the only one that may connect: its service's Secret
        runs = [call for call in state["calls"] if " run " in call and f'"value": "{database}"' in call]
        assert runs and all(f'"name": "{database.replace("_", "-")}-secrets"' in call for call in runs), database


@pytest.mark.parametrize(("failing", "why"), [
    ("velero --kubecontext business-app-production --namespace velero restore create", "the namespace restore"),
    ("rds restore-db-instance-to-point-in-time", "the database restore"),
    ("rds wait db-instance-available", "the database never becomes available"),
    ("--namespace business-app-drill-", "the check in the scratch namespace"),
])
def test_a_failing_step_exits_non_zero_and_still_removes_what_it_made(drill: Path, tmp_path: Path, failing: str,
                                                                      why: str) -> None:
    result, state = run_drill(drill, tmp_path, fail=[failing])
    assert result.returncode != 0, why
    assert "passed" not in result.stdout
    assert left_behind(state) == [], why
    assert any("delete namespace business-app-drill-" in call for call in state["calls"])


def test_a_restore_with_fewer_tables_fails(drill: Path, tmp_path: Path) -> None:
    result, state = run_drill(drill, tmp_path, restored_tables_delta=-1)
    assert result.returncode == 1
    assert "auth_service restored with 3 tables; the live one has 4" in result.stderr
    assert left_behind(state) == []


def test_a_restore_velero_did_not_complete_fails(drill: Path, tmp_path: Path) -> None:
    result, state = run_drill(drill, tmp_path, restore_phase="PartiallyFailed")
    assert result.returncode == 1 and "ended PartiallyFailed" in result.stderr
    assert left_behind(state) == []
    assert not any("restore-db-instance" in call for call in state["calls"])


def test_a_cleanup_that_fails_fails_the_drill(drill: Path, tmp_path: Path) -> None:
    result, state = run_drill(drill, tmp_path, fail=["rds delete-db-instance"])
    assert result.returncode == 1
    assert "cleanup incomplete" in result.stderr
    assert any("-drill-" in name for name in state["instances"])  # what the failed call left: said, not hidden
    assert not any("-drill-" in name for name in state["namespaces"])  # the other steps still ran


def test_no_backup_yet_is_a_failure_not_a_pass(drill: Path, tmp_path: Path) -> None:
    result, state = run_drill(drill, tmp_path, backups=[])
    assert result.returncode == 1 and "no backup of schedule business-app-backup yet" in result.stderr
    assert left_behind(state) == []


def test_the_drill_is_shellcheck_clean(drill: Path) -> None:
    shellcheck = require_tool("shellcheck")
    result = subprocess.run([shellcheck, "--severity=style", str(drill)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
