"""Runbook scripts (shellcheck, and run against stand-ins for kubectl and aws) and the architecture diagram."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from bizinfra.spec.models import Platform
from bizinfra.targets.ops.architecture import architecture_markdown
from tests.strategies import platforms
from tests.support import bundled_platform, plan_of, require_tool, run
from tests.support.localdev import write_files

STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
case "$(basename "$0") $*" in
  "aws secretsmanager"*) echo '{{"username": "owner", "password": "pw"}}' ;;
  "aws s3api"*) printf '%s\\t%s\\n' 2020-01-01T02:00:00+00:00 database/postgres/old.sql.gz \\
                       2999-01-01T02:00:00+00:00 database/postgres/new.sql.gz ;;
  "aws s3 cp"*) cat > /dev/null ;;
  "pg_dump"*) echo "-- dump" ;;
  "kubectl "*" get deployment/"*) printf %s "${{REPLICAS-2}}" ;;
  "kubectl "*" get pods "*) printf %s "${{PODS-auth-service-green-5d8f-x2k auth-service-green-5d8f-q7m}}" ;;
esac
"""


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_files(bundled_platform(), tmp_path_factory.mktemp("ops"))


def run_script(script: Path, args: list[str], tmp_path: Path, **cluster: str) -> tuple[int, str, list[str]]:
    """Run with kubectl, aws and pg_dump replaced by stand-ins that log their arguments; `cluster` sets what the
    stand-in kubectl answers (REPLICAS of a Deployment, running PODS)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir(exist_ok=True)
    log.write_text("")
    for name in ("kubectl", "aws", "pg_dump"):
        (bin_dir / name).write_text(STUB.format(log=log))
        (bin_dir / name).chmod(0o755)
    result = run([str(script), *args], env={"PATH": f"{bin_dir}:/usr/bin:/bin", **cluster})
    return result.returncode, result.stderr, log.read_text().splitlines()


def test_scripts_pass_shellcheck(bundled: Path) -> None:
    scripts = sorted((bundled / "scripts").glob("*.sh"))
    assert [s.name for s in scripts] == ["db-backup.sh", "debug-db.sh", "restore-drill.sh", "rollback.sh"]
    result = run([require_tool("shellcheck"), *map(str, scripts)])
    assert result.returncode == 0, result.stdout
    assert all("set -euo pipefail" in s.read_text() for s in scripts)


@pytest.mark.parametrize("args, message", [
    ([], "Usage: rollback.sh"),
    (["qa", "api-gateway", "3"], "unknown environment 'qa'; one of: production, staging"),
    (["staging", "api-gatway", "3"], "unknown service 'api-gatway'"),
    (["staging", "api-gateway", "three"], "revision must be a positive number (got 'three')"),
    (["production", "api-gateway", "3"], "production needs a slot (blue or green)"),
    (["staging", "api-gateway", "3", "blue"], "no Deployment for api-gateway slot blue in staging"),
])
def test_rollback_refuses_bad_arguments_before_touching_the_cluster(bundled: Path, tmp_path: Path,
                                                                     args: list[str], message: str) -> None:
    code, stderr, calls = run_script(bundled / "scripts" / "rollback.sh", args, tmp_path)
    assert code == 2
    assert message in stderr
    assert calls == []


def test_rollback_undoes_the_plans_deployment_in_the_plans_namespace(bundled: Path, tmp_path: Path) -> None:
    code, stderr, calls = run_script(bundled / "scripts" / "rollback.sh", ["production", "auth-service", "7", "green"],
                                     tmp_path)
    assert code == 0, stderr
    assert calls[2:] == [
        "kubectl --context business-app-production --namespace business-app rollout undo "
        "deployment/auth-service-green --to-revision=7",
        "kubectl --context business-app-production --namespace business-app rollout status "
        "deployment/auth-service-green --timeout=10m",
    ]


def test_rollback_refuses_a_slot_that_runs_no_pods(bundled: Path, tmp_path: Path) -> None:
    code, stderr, calls = run_script(bundled / "scripts" / "rollback.sh", ["production", "auth-service", "7", "blue"],
                                     tmp_path, REPLICAS="0")
    assert code == 2
    assert "deployment/auth-service-blue runs no replicas" in stderr
    assert not any("rollout" in call for call in calls)


def test_backup_streams_every_database_to_the_bucket_and_prunes_old_dumps(bundled: Path, tmp_path: Path) -> None:
    code, stderr, calls = run_script(bundled / "scripts" / "db-backup.sh", ["staging"], tmp_path)
    assert code == 0, stderr
    dumps = [c for c in calls if c.startswith("pg_dump")]
    assert [re.search(r"--dbname (\S+)", c)[1] for c in dumps] == [  # type: ignore[index]
        "auth_service", "business_service", "inventory_service", "invoice_service"]
    assert all("--host postgres.business-app.internal --port 5432 --username owner" in c for c in dumps)
    uploads = [c for c in calls if c.startswith("aws s3 cp")]
    assert all(c.startswith("aws s3 cp - s3://business-app-com-staging-backups/database/postgres/") for c in uploads)
    assert len(uploads) == 4
    removed = [c for c in calls if c.startswith("aws s3 rm")]
    assert removed == ["aws s3 rm --region ap-south-1 s3://business-app-com-staging-backups/database/postgres/old.sql.gz"]


def test_backup_of_an_unknown_database_fails(bundled: Path, tmp_path: Path) -> None:
    code, stderr, _ = run_script(bundled / "scripts" / "db-backup.sh", ["staging", "nope"], tmp_path)
    assert code == 2 and "no database matched 'nope' in staging" in stderr


def test_debug_db_checks_the_plans_instance_from_a_service_that_uses_it(bundled: Path, tmp_path: Path) -> None:
    code, stderr, calls = run_script(bundled / "scripts" / "debug-db.sh", ["staging", "postgres"], tmp_path)
    assert code == 0, stderr
    assert any("--db-instance-identifier business-app-staging-postgres" in c for c in calls)
    (find,) = [c for c in calls if " get pods " in c]
    assert "--selector app.kubernetes.io/name=auth-service" in find and "status.phase=Running" in find
    (connect,) = [c for c in calls if " exec " in c]
    assert connect.startswith("kubectl --context business-app-staging --namespace business-app exec "
                              "auth-service-green-5d8f-x2k -- node -e")
    assert connect.endswith("postgres.business-app.internal 5432")


def test_debug_db_fails_when_no_pod_of_the_client_runs(bundled: Path, tmp_path: Path) -> None:
    code, stderr, calls = run_script(bundled / "scripts" / "debug-db.sh", ["production", "postgres"], tmp_path, PODS="")
    assert code == 1
    assert "no running pod of auth-service in production" in stderr
    assert not any(" exec " in call for call in calls)


@given(platform=platforms())
def test_scripts_of_random_platforms_pass_shellcheck(platform: Platform, tmp_path_factory: Any) -> None:
    scripts = sorted(write_files(platform, tmp_path_factory.mktemp("sh"), ("ops", "compose")).glob("**/*.sh"))
    assert scripts
    result = run([require_tool("shellcheck"), *map(str, scripts)])
    assert result.returncode == 0, result.stdout


# -- the architecture diagram ---------------------------------------------------------------

NODE = re.compile(r'^\s*(\w+)(\[\(|\(\[|\[)"([^"]*)"(\)\]|\]\)|\])$')
EDGE = re.compile(r"^\s*(\w+) (-->|-\.->)(?:\|\"([^\"]*)\"\|)? (\w+)$")


def parse_mermaid(markdown: str) -> tuple[dict[str, str], set[tuple[str, str, str]]]:
    """A small structural parse: every line of the block is a node, an edge, or a subgraph line."""
    block = re.search(r"```mermaid\n(.*?)```", markdown, flags=re.DOTALL)
    assert block, "no mermaid block"
    lines = block[1].splitlines()
    assert lines[0] == "flowchart TB"
    nodes: dict[str, str] = {}
    edges: set[tuple[str, str, str]] = set()
    depth = 0
    for line in lines[1:]:
        if node := NODE.match(line):
            assert node[1] not in nodes, f"node {node[1]} defined twice"
            nodes[node[1]] = node[3]
        elif edge := EDGE.match(line):
            edges.add((edge[1], edge[2], edge[4]))
        elif re.match(r'^\s*subgraph \w+\["[^"]*"\]$', line):
            depth += 1
        elif line.strip() == "end":
            depth -= 1
        else:
            raise AssertionError(f"unparsed line: {line!r}")
    assert depth == 0
    assert all(a in nodes and b in nodes for a, _, b in edges), "an edge to an undeclared node"
    return nodes, edges


@given(platform=platforms())
def test_architecture_lists_every_service_and_store_with_their_calls_and_uses(platform: Platform) -> None:
    plan = plan_of(platform)
    nodes, edges = parse_mermaid(architecture_markdown(plan))
    labels = {label.split("<br/>")[0]: node for node, label in nodes.items()}
    spec_services, spec_stores = platform.services, platform.datastores
    assert set(spec_services) | set(spec_stores) | set(platform.storage) <= set(labels)
    expected = {(labels[n], "-->", labels[c]) for n, s in spec_services.items() for c in s.calls}
    expected |= {(labels[n], "-.->", labels[u]) for n, s in spec_services.items() for u in s.uses}
    public = {n for n, s in spec_services.items() if s.public}
    expected |= {("alb", "-->", labels[n]) for n in public}
    if public:
        expected |= {("users", "-->", "cdn"), ("cdn", "-->", "alb")}
    postgres_users = {n for n, s in spec_services.items() for u in s.uses
                      if u in spec_stores and spec_stores[u].engine == "postgres"}
    expected |= {(labels[n], "-.->", "backups") for n, d in spec_stores.items()
                 if d.engine == "postgres" and any(n in spec_services[u].uses for u in postgres_users)}
    assert edges == expected


def test_bundled_architecture_draws_the_seed(bundled: Path) -> None:
    nodes, edges = parse_mermaid((bundled / "docs" / "architecture.md").read_text())
    assert nodes["alb"] == "Application Load Balancer"
    assert nodes["svc_api_gateway"] == "api-gateway<br/>port 3000, 3 to 10 replicas"
    assert nodes["ds_postgres"] == "postgres<br/>PostgreSQL 15, RDS"
    assert ("alb", "-->", "svc_api_gateway") in edges
    assert ("svc_auth_service", "-.->", "ds_redis") in edges
    assert ("ds_postgres", "-.->", "backups") in edges
    assert nodes["backups"] == "S3<br/>business-app-com-production-backups"
