"""The proof that the generated Terraform applies: every stack of every bundled spec against moto, the AWS API
emulator, on loopback. The bootstrap stack is applied as its README says (local state, then migrated into the
bucket it made); each environment's stack then keeps its state in that bucket through its own backend settings
(with only the endpoints pointed at the emulator), applies, plans again with no change, and is destroyed; last the
bootstrap's state moves back to disk, the bucket is emptied and the bootstrap destroyed.

Where moto lacks an API or answers unlike AWS, `STUBS` changes only that part of the scratch copy, each with its
reason: the one place to extend when a new resource type meets the emulator's limits. Where moto's answer breaks the
provider's own reading (not an attribute a plan can ignore), the server sets it right: `tests/support/moto_server.py`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bizinfra.pipeline import build
from bizinfra.plan import BOOTSTRAP_STACK, resolve
from bizinfra.spec.loader import load_platform
from tests.support import SPECS
from tests.support.terraform import offline_terraform

pytestmark = pytest.mark.slow
PARALLELISM = "-parallelism=30"
COMMAND_SECONDS = 600  # the slowest command seen: production's apply, 360 s on a loaded 2-core machine (failover included)
# terraform/<env>/addons/: Helm releases, which need the helm provider (not in the mirror) and a cluster (moto runs
# none); their values are checked against the charts' schemas instead (test_helm_releases).
HELM_STACK = "addons"
# moto's server with its RDS answers set right where the provider trips over them (each instance its own resource id)
MOTO_SERVER = Path(__file__).parent / "support" / "moto_server.py"
STANDBY_STACK = "standby"  # terraform/<env>/standby/: the second region's pilot light, after its environment


@dataclass(frozen=True)
class Stub:
    """One thing moto cannot do as AWS does. `override`: attributes set on every block of `kind` (in an override
    file); `ignore`: attributes whose differences the plan ignores; else the blocks of `kind` are dropped, and every
    reference to one reads the `stand_in` attribute values."""

    kind: str  # `aws_db_instance`, or `data.aws_cloudfront_cache_policy`
    reason: str
    name: str | None = None  # only the block of this name; every block of the kind when None
    override: dict[str, Any] = field(default_factory=dict)  # a value may be a function of the block as generated
    stand_in: dict[str, Any] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()  # attributes moto answers unlike AWS: lifecycle.ignore_changes, so a plan is empty

    @property
    def drops(self) -> bool:
        return not (self.override or self.ignore)

    def settings(self, body: dict[str, Any]) -> dict[str, Any]:
        override = {key: value(body) if callable(value) else value for key, value in self.override.items()}
        return {**override, **({"lifecycle": {"ignore_changes": list(self.ignore)}} if self.ignore else {})}


STUBS = (
    Stub("data.aws_cloudfront_cache_policy", "moto has no ListCachePolicies (404); AWS's managed policy ids are "
         "fixed", stand_in={"id": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"}),
    Stub("data.aws_cloudfront_origin_request_policy", "moto has no ListOriginRequestPolicies (404)",
         stand_in={"id": "216adef6-5c7f-47e4-b989-5492eafa07d3"}),
    Stub("data.aws_cloudfront_response_headers_policy", "moto has no ListResponseHeadersPolicies (404)",
         stand_in={"id": "67f7725c-6f97-4210-82d7-5512b31e9d03"}),
    Stub("aws_elasticache_replication_group", "moto lists member clusters (`-001`) it never creates, so the "
         "provider's read fails", stand_in={"id": "cache", "primary_endpoint_address": "cache.emulator.internal",
                                             "arn": "arn:aws:elasticache:emulator"}),
    Stub("aws_db_instance", "moto keeps no Performance Insights settings (answers them disabled)",
         ignore=("performance_insights_enabled", "performance_insights_kms_key_id",
                 "performance_insights_retention_period")),
    Stub("aws_s3_bucket_policy", "moto denies every request a Deny statement's action and resource match, "
         "whatever its conditions (aws:SecureTransport, aws:PrincipalArn), so the state bucket's policy would lock the "
         "backend out", name="state"),
    Stub("aws_flow_log", "moto reads an S3 destination's prefix as part of the bucket name",
         override={"log_destination": lambda body: body["log_destination"].removesuffix("/vpc-flow-logs/")}),
    Stub("aws_elasticache_subnet_group", "moto has no DeleteCacheSubnetGroup (500, NotImplementedError): the stack "
         "could not be destroyed", stand_in={"name": "cache"}),
    Stub("aws_s3_bucket_logging", "moto's PutBucketLogging fails (500, AttributeError) on a target bucket whose "
         "policy has a statement with the principal \"*\" (the TLS-only Deny)"),
    Stub("aws_cloudwatch_query_definition", "moto has no PutQueryDefinition (500, NotImplementedError)"),
    Stub("aws_backup_selection", "moto's AWS Backup has vaults and plans but no CreateBackupSelection"),
    Stub("aws_backup_plan", "moto's AWS Backup keeps no tags", ignore=("tags", "tags_all")),
    Stub("aws_backup_vault", "moto's AWS Backup keeps no tags", ignore=("tags", "tags_all")),
    Stub("aws_db_instance_automated_backups_replication", "moto has no StartDBInstanceAutomatedBackupsReplication "
         "(the second region's copy of a database's automated backups)"),
    Stub("aws_s3_bucket_replication_configuration", "moto's GetBucketReplication answers delete marker replication "
         "as Disabled and leaves out the rule's source selection criteria",
         ignore=("rule[0].delete_marker_replication", "rule[0].source_selection_criteria")),
    Stub("aws_eks_addon", "moto has no EKS add-on API (CreateAddon: 404)"),
    Stub("aws_eks_access_entry", "moto has no EKS access entry API (CreateAccessEntry: 404)",
         stand_in={"principal_arn": "arn:aws:iam::123456789012:role/emulator"}),
    Stub("aws_eks_access_policy_association", "moto has no EKS access entry API (AssociateAccessPolicy: 404)"),
    Stub("aws_eks_pod_identity_association", "moto has no EKS Pod Identity API (CreatePodIdentityAssociation: 404)"),
    Stub("aws_cloudfront_distribution", "the provider waits (30 s and more) for the distribution to reach every edge "
         "location, which moto has none of; moto answers a behaviour with a cache policy with default forwarded "
         "values too, and a custom certificate with the default one too",
         override={"wait_for_deployment": False},
         ignore=("default_cache_behavior[0].forwarded_values", "viewer_certificate[0].cloudfront_default_certificate")),
    Stub("aws_iam_openid_connect_provider", "moto draws its EKS OIDC issuer once per server, so every cluster has the "
         "same one and the second environment's provider would collide", name="eks",
         override={"url": "${aws_eks_cluster.main.identity[0].oidc[0].issuer}/${aws_eks_cluster.main.name}"}),
    Stub("aws_eks_cluster", "moto keeps no access configuration, upgrade policy or network configuration and "
         "answers no security groups as an empty list", ignore=("access_config", "upgrade_policy",
                                                                "kubernetes_network_config", "vpc_config")),
    Stub("aws_eks_node_group", "moto invents a remote access key pair, answers no labels as {} and keeps no update "
         "configuration", ignore=("remote_access", "labels", "update_config")),
    Stub("aws_launch_template", "moto adds a tag specification of its own, and makes no cluster security group (the "
         "cluster's cluster_security_group_id, listed here, is null)",
         ignore=("tag_specifications", "vpc_security_group_ids")),
    Stub("aws_db_parameter_group", "moto's DescribeDBParameters leaves out the parameters the group sets",
         ignore=("parameter",)),
    Stub("aws_route53_zone", "moto's GetHostedZone leaves out a private zone's VPCs", ignore=("vpc",)),
    Stub("aws_route53_health_check", "moto answers a CloudWatch-alarm check with an HTTP check's port, interval, "
         "regions and empty child lists, and forgets the status it takes without data",
         ignore=("insufficient_data_health_status", "request_interval", "port", "invert_healthcheck", "regions",
                 "child_health_threshold", "child_healthchecks")),
    Stub("aws_secretsmanager_secret", "moto replicates a secret (ReplicateSecretToRegions) under the default key, "
         "whichever key it is given: with a second region every secret has a replica", ignore=("replica",)),
    Stub("aws_vpc_security_group_ingress_rule", "moto forgets a rule's description", ignore=("description",)),
    Stub("aws_vpc_security_group_egress_rule", "moto forgets a rule's description", ignore=("description",)),
)

# What a person sets before destroying production, whose stack keeps its data when destroyed by mistake.
DECOMMISSION = {
    "aws_db_instance": {"deletion_protection": False, "skip_final_snapshot": True},
    "aws_lb": {"enable_deletion_protection": False},
    "aws_s3_bucket": {"force_destroy": True},
}


# -- the emulator ---------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Emulator:
    """One moto server (one AWS account) on loopback, over TLS: the stacks' bucket policies refuse plain HTTP."""

    url: str
    process: subprocess.Popen[bytes]

    def client(self, service: str, region: str) -> Any:
        import boto3  # type: ignore[import-untyped]

        return boto3.client(service, endpoint_url=self.url, region_name=region, verify=False,
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def emulators(tmp_path: Path) -> Iterator[list[Emulator]]:
    pytest.importorskip("moto.server", reason="moto[server] (the test extra) runs the AWS API emulator")
    started: list[Emulator] = []

    def start() -> Emulator:
        port = free_port()
        log = (tmp_path / f"moto-{port}.log").open("wb")
        process = subprocess.Popen([sys.executable, str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port), "--ssl"],
                                   stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
                                        "MOTO_ACM_VALIDATION_WAIT": "0",
                                        # no stack looks an image up: spare each region's first EC2 call the load
                                        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"})
        emulator = Emulator(f"https://127.0.0.1:{port}", process)
        started.append(emulator)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return emulator
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"moto did not listen on {port} within 30 s")

    try:
        yield [start() for _ in bundled_platforms()]
    finally:
        for emulator in started:
            emulator.process.terminate()
            emulator.process.wait(timeout=10)


# -- stacks, as a person runs them ------------------------------------------------------------------------------------


def bundled_platforms() -> list[str]:
    return sorted(path.stem for path in SPECS.glob("*.yaml"))


def run(terraform: str, folder: Path, env: dict[str, str], *args: str, ok: tuple[int, ...] = (0,)) -> str:
    """One terraform command, killed after COMMAND_SECONDS; its output, each line stamped with the seconds since the
    command began, streamed to `logs/<stack>.log` beside the stacks: where a slow or failed run is read from."""
    logs = folder.parent / "logs"
    logs.mkdir(exist_ok=True)
    began, lines = time.monotonic(), []
    process = subprocess.Popen([terraform, *args, "-input=false", "-no-color"], cwd=folder, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    bound = threading.Timer(COMMAND_SECONDS, process.kill)
    bound.start()
    with (logs / f"{folder.name}.log").open("a") as log:
        log.write(f"\n$ terraform {' '.join(args)}\n")
        for line in process.stdout or ():
            lines.append(line)
            log.write(f"{time.monotonic() - began:6.1f} {line}")
            log.flush()
        code = process.wait()
        bound.cancel()
        log.write(f"{time.monotonic() - began:6.1f} exit {code}\n")
    output = "".join(lines)
    assert code in ok, f"{folder.name}: terraform {args[0]} exited {code} (killed after {COMMAND_SECONDS} s if " \
        f"negative); failed: {failed_blocks(output)}; unfinished: {still_running(output)}\n{output[-3000:]}"
    return output


def still_running(output: str) -> list[str]:
    """The addresses terraform was still waiting on: what a command killed at its bound was stuck in."""
    started = re.findall(r"^(\S+): (?:Creating|Modifying|Destroying)\.\.\.", output, re.MULTILINE)
    finished = set(re.findall(r"^(\S+): (?:Creation|Modifications|Destruction) complete", output, re.MULTILINE))
    return sorted(set(started) - finished)


def failed_blocks(output: str) -> list[str]:
    """The addresses terraform names under its errors: what failed, to extend STUBS with or to fix."""
    return sorted(set(re.findall(r"^\s+with (\S+),$", output, re.MULTILINE)))


def emulator_override(folder: Path, url: str) -> dict[str, Any]:
    """Every aws provider (aliases too) and the S3 backend, as generated, with every endpoint at the emulator."""
    services = ["acm", "backup", "budgets", "cloudfront", "cloudwatch", "ec2", "ecr", "eks", "elasticache", "elbv2", "iam",
                "kms", "logs", "rds", "route53", "s3", "secretsmanager", "sns", "sqs", "ssm", "sts", "wafv2"]
    documents = [json.loads(path.read_text()) for path in sorted(folder.glob("*.tf.json"))]
    aliases = sorted({provider.get("alias", "") for document in documents
                      for provider in [(document.get("provider") or {}).get("aws")] if provider})
    # max_retries: moto answers an action it lacks with a 500, which the SDK would retry for minutes: fail fast.
    credentials = {"access_key": "testing", "secret_key": "testing", "insecure": True, "max_retries": 2,
                   "skip_credentials_validation": True, "skip_metadata_api_check": True,
                   "skip_region_validation": True}
    providers = [{**({"alias": alias} if alias else {}), **credentials, "s3_use_path_style": True,
                  "skip_requesting_account_id": False, "endpoints": [{name: url for name in services}]}
                 for alias in aliases]
    (backend,) = [document["terraform"]["backend"]["s3"] for document in documents if "terraform" in document]
    backend = {**backend, **credentials, "use_path_style": True, "skip_requesting_account_id": True,
               "endpoints": {"s3": url, "sts": url, "iam": url}}
    return {"provider": {"aws": providers}, "terraform": {"backend": {"s3": backend}}}


def stubbed(folder: Path) -> dict[str, Any]:
    """Apply STUBS to the scratch copy: drop the stood-in blocks and point references at locals; return the
    attribute overrides."""
    locals_: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    for path in sorted(folder.glob("*.tf.json")):
        document = json.loads(path.read_text())
        for stub in STUBS:
            section, kind = ("data", stub.kind[5:]) if stub.kind.startswith("data.") else ("resource", stub.kind)
            blocks = {name: body for name, body in (document.get(section) or {}).get(kind, {}).items()
                      if stub.name in (None, name)}
            if not stub.drops:
                for name, body in blocks.items():
                    overrides.setdefault(section, {}).setdefault(kind, {}).setdefault(name, {}).update(
                        stub.settings(body))
            else:
                for name in blocks:
                    del document[section][kind][name]
                    locals_[f"stub_{kind}_{name}"] = stub.stand_in
                if not document.get(section, {}).get(kind, True):
                    del document[section][kind]
        path.write_text(json.dumps(document, indent=1))
    text_of = {path: path.read_text() for path in folder.glob("*.tf.json")}
    for path, text in text_of.items():
        for stub in (s for s in STUBS if s.drops):
            address, local = re.escape(stub.kind), "local.stub_" + stub.kind.removeprefix("data.")
            name = re.escape(stub.name) if stub.name else r"\w+"
            text = re.sub(rf'"{address}\.{name}",?', "", text)  # in depends_on
            text = re.sub(rf"\b{address}\.({name})\b", rf"{local}_\1", text)
        path.write_text(re.sub(r",(\s*)\]", r"\1]", text))
    if locals_:
        (folder / "stubs.tf.json").write_text(json.dumps({"locals": locals_}, indent=1))
    return overrides


def scratch_copy(generated: Path, scratch: Path, emulator: Emulator) -> Path:
    shutil.copytree(generated, scratch, ignore=shutil.ignore_patterns("*.md"))
    (scratch / "emulator_override.tf.json").write_text(json.dumps(emulator_override(scratch, emulator.url)))
    overrides = stubbed(scratch)
    if overrides:
        (scratch / "stubs_override.tf.json").write_text(json.dumps(overrides, indent=1))
    return scratch


LOCAL_STATE: dict[str, Any] = {"terraform": {"backend": {"local": {}}}}  # the README's first-run override


def bootstrap_up(terraform: str, env: dict[str, str], folder: Path) -> None:
    (folder / "local_override.tf.json").write_text(json.dumps(LOCAL_STATE))
    run(terraform, folder, env, "init")
    run(terraform, folder, env, "apply", "-auto-approve", PARALLELISM)
    (folder / "local_override.tf.json").unlink()
    run(terraform, folder, env, "init", "-migrate-state", "-force-copy")
    (folder / "terraform.tfstate").unlink()


def bootstrap_from_bucket(terraform: str, env: dict[str, str], folder: Path) -> None:
    """The second plan, empty: the state migrated into the bucket, read under its lock file, matches what the apply
    made. Run while the environments apply."""
    run(terraform, folder, env, "plan", "-detailed-exitcode", PARALLELISM)


def bootstrap_down(terraform: str, env: dict[str, str], folder: Path, emulator: Emulator, region: str) -> None:
    (folder / "local_override.tf.json").write_text(json.dumps(LOCAL_STATE))
    run(terraform, folder, env, "init", "-migrate-state", "-force-copy")
    bucket = state_bucket(folder)
    s3 = emulator.client("s3", region)
    versions = s3.list_object_versions(Bucket=bucket)
    for version in [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])]:
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    run(terraform, folder, env, "destroy", "-auto-approve", "-refresh=false", PARALLELISM)


def decommission(folder: Path) -> dict[str, Any]:
    """The DECOMMISSION settings of the blocks that do not have them already (production's): empty elsewhere."""
    changes: dict[str, Any] = {}
    for document in map(json.loads, map(Path.read_text, folder.glob("*.tf.json"))):
        for kind, blocks in (document.get("resource") or {}).items():
            for name, body in blocks.items():
                if any(body.get(key) != value for key, value in DECOMMISSION.get(kind, {}).items()):
                    changes.setdefault(kind, {})[name] = DECOMMISSION[kind]
    return changes


def environment_cycle(terraform: str, env: dict[str, str], folder: Path, standby: Path | None = None) -> None:
    """Apply, plan again (refreshed: nothing may differ), destroy. The state was refreshed by that plan, so the
    decommissioning apply and the destroy do not read every resource once more. A standby stack reads what its
    environment's stack makes in the second region (its log bucket, the origin secret's replica, the certificate's
    validation records): it runs its own cycle once that apply is done, beside the plan, and the environment is
    destroyed after it."""
    with ThreadPoolExecutor(1) as pool:
        initialised = pool.submit(run, terraform, standby, env, "init") if standby else None
        run(terraform, folder, env, "init")
        run(terraform, folder, env, "apply", "-auto-approve", PARALLELISM)
        cycle = pool.submit(standby_up_and_down, terraform, env, standby, initialised) if standby else None
        run(terraform, folder, env, "plan", "-detailed-exitcode", PARALLELISM)
        if cycle:
            cycle.result()
    destroy(terraform, env, folder)


def standby_up_and_down(terraform: str, env: dict[str, str], folder: Path | None,
                        initialised: Future[str] | None) -> None:
    assert folder and initialised
    initialised.result()
    run(terraform, folder, env, "apply", "-auto-approve", PARALLELISM)
    run(terraform, folder, env, "plan", "-detailed-exitcode", PARALLELISM)
    destroy(terraform, env, folder)


def destroy(terraform: str, env: dict[str, str], folder: Path) -> None:
    if changes := decommission(folder):
        (folder / "decommission_override.tf.json").write_text(json.dumps({"resource": changes}))
        run(terraform, folder, env, "apply", "-auto-approve", "-refresh=false", PARALLELISM)
    run(terraform, folder, env, "destroy", "-auto-approve", "-refresh=false", PARALLELISM)


def stack_folders(terraform_tree: Path) -> list[Path]:
    """Every stack below terraform/ but the add-ons' (Helm releases: no helm provider in the mirror, no cluster)."""
    return sorted(path.parent.relative_to(terraform_tree) for path in terraform_tree.glob("**/versions.tf.json")
                  if path.parent.name != HELM_STACK)


def state_bucket(bootstrap: Path) -> str:
    return str(json.loads((bootstrap / "versions.tf.json").read_text())["terraform"]["backend"]["s3"]["bucket"])


def bucket_made(emulator: Emulator, bucket: str, region: str, bootstrap_apply: Future[None]) -> None:
    """Wait until the bootstrap's apply has made the state bucket: all an environment's stack needs of it (the rest of
    that apply is the lifecycle rule's fixed 55 s consistency wait). The apply's own failure is raised first."""
    s3, deadline = emulator.client("s3", region), time.monotonic() + COMMAND_SECONDS
    while time.monotonic() < deadline:
        if bootstrap_apply.done():
            return bootstrap_apply.result()
        try:
            s3.head_bucket(Bucket=bucket)
            return None
        except s3.exceptions.ClientError:
            time.sleep(1)
    raise AssertionError(f"the bootstrap made no bucket {bucket} within {COMMAND_SECONDS} s")


def platform_cycle(platform: str, emulator: Emulator, generated: Path, scratch: Path, plugin_cache: Path) -> None:
    """The bootstrap first; each environment from the moment the state bucket exists; the bootstrap's second plan
    beside them, once its state is in that bucket; the bootstrap destroyed last."""
    scratch.mkdir(parents=True)
    terraform, env = offline_terraform(scratch, plugin_cache, "the apply against an AWS API emulator")
    plan = resolve(load_platform(SPECS / f"{platform}.yaml"), f"specs/{platform}.yaml")
    # The domain's public zone is the account's already (spec edge.zone: existing), made when it was registered.
    emulator.client("route53", "us-east-1").create_hosted_zone(Name=plan.environments[0].domain,
                                                               CallerReference=platform)
    tree = generated / "terraform"
    stacks = {folder: scratch_copy(tree / folder, scratch / "-".join(folder.parts), emulator)
              for folder in stack_folders(tree)}
    bootstrap = stacks.pop(Path(BOOTSTRAP_STACK))
    with ThreadPoolExecutor(len(stacks) + 1) as pool:
        bootstrap_apply = pool.submit(bootstrap_up, terraform, env, bootstrap)
        bucket_made(emulator, state_bucket(bootstrap), plan.region, bootstrap_apply)
        standbys = {folder.parent: stacks.pop(folder) for folder in list(stacks) if folder.name == STANDBY_STACK}
        jobs = [pool.submit(environment_cycle, terraform, env, copy, standbys.get(folder))
                for folder, copy in stacks.items()]
        bootstrap_apply.result()
        jobs.append(pool.submit(bootstrap_from_bucket, terraform, env, bootstrap))
        for job in jobs:
            job.result()
    bootstrap_down(terraform, env, bootstrap, emulator, plan.region)


def test_every_bundled_stack_applies_plans_empty_and_destroys(emulators: list[Emulator], tmp_path: Path) -> None:
    """About three minutes on 2 cores: each platform in its own emulator (its own account), its environments at
    once."""
    files = build(SPECS).files
    generated = tmp_path / "generated"
    for path, data in files.items():
        (generated / path).parent.mkdir(parents=True, exist_ok=True)
        (generated / path).write_bytes(data)
    plugin_cache = tmp_path / "plugin-cache"
    plugin_cache.mkdir()
    platforms = bundled_platforms()
    with ThreadPoolExecutor(len(platforms)) as pool:
        list(pool.map(lambda pair: platform_cycle(pair[0], pair[1], generated / pair[0], tmp_path / "scratch" /
                                                  pair[0], plugin_cache), zip(platforms, emulators, strict=True)))
