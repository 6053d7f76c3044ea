"""The Kubernetes manifests of the bundled business app, judged by the real tools, and the validators' own
teeth: each must reject what the API server would reject."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bizinfra.plan import resolve
from bizinfra.spec.loader import load_platform
from bizinfra.spec.models import Platform
from bizinfra.targets.kubernetes import compile_kubernetes
from bizinfra.targets.kubernetes.exporters import IMAGES as EXPORTER_IMAGES
from bizinfra.validate.kubernetes import document_problems, validate_folders
from tests.support import BUNDLED_SOURCE, ROOT, SPECS, bundled_platform, optional_tool, require_tool
from tests.support.kubernetes import environments, kustomization, named, of_kind, rendered, write

# checkov's Kubernetes checks skipped on the business app; docs/kubernetes.md gives each one's reason.
CHECKOV_SKIPS = ("CKV_K8S_35", "CKV_K8S_43")


@pytest.fixture(scope="module")
def business_app() -> Platform:
    return bundled_platform()


@pytest.fixture(scope="module")
def files(business_app: Platform) -> dict[str, bytes]:
    return rendered(business_app, BUNDLED_SOURCE)


@pytest.fixture(scope="module")
def tree(files: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write(files, tmp_path_factory.mktemp("business-app"))


@pytest.fixture(scope="module")
def every_bundled_tree(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The Kubernetes folders of every bundled spec, written side by side."""
    root = tmp_path_factory.mktemp("bundled")
    folders = []
    for spec in sorted(SPECS.glob("*.yaml")):
        folders += write(rendered(load_platform(spec), f"specs/{spec.name}"), root / spec.stem)
    return folders


@pytest.fixture(scope="module")
def production(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return environments(files)["production"]


@pytest.fixture(scope="module")
def staging(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return environments(files)["staging"]


# -- the judges, on the bundled spec ----------------------------------------------------------------


def test_kubernetes_validate_and_the_crd_schemas_accept_every_object(every_bundled_tree: list[Path]) -> None:
    assert "business-app/kubernetes/production" in {f.relative_to(f.parents[2]).as_posix() for f in every_bundled_tree}
    assert validate_folders(require_tool("kubernetes-validate"), every_bundled_tree) == []


def test_checkov_finds_nothing_beyond_the_documented_skips(every_bundled_tree: list[Path]) -> None:
    checkov = require_tool("checkov")
    tree = every_bundled_tree
    root = tree[0].parents[2]
    result = subprocess.run([checkov, "-d", str(root), "--framework", "kubernetes", "--skip-download", "--quiet",
                             "--compact", "-o", "json", "--skip-check", ",".join(CHECKOV_SKIPS)],
                            capture_output=True, text=True, check=False)
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = sorted({(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]})
    assert failed == []
    assert summary["parsing_errors"] == 0 and summary["passed"] > 500
    documents = [d for file in _documents_by_file(tree).values() for d in file]
    workloads = of_kind(documents, "Deployment") + of_kind(documents, "Job")
    containers = [c for d in workloads for c in d["spec"]["template"]["spec"]["containers"]]
    # checkov scans each container on its own (not the init containers: tests/test_database_bootstrap.py does)
    assert summary["resource_count"] == len(documents) + len(containers)


def test_every_checkov_skip_is_justified_in_the_docs() -> None:
    docs = (ROOT / "docs" / "kubernetes.md").read_text()
    for check in CHECKOV_SKIPS:
        line = next((line for line in docs.splitlines() if check in line), "")
        assert len(line.split(check, 1)[1]) > 40, f"{check} is skipped without a reason in docs/kubernetes.md"


def test_kustomize_builds_each_folder_with_namespaces_and_images_intact(tree: list[Path],
                                                                         business_app: Platform) -> None:
    kubectl = optional_tool("kubectl")
    for folder in tree:
        built = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=True)
        objects = [d for d in yaml.safe_load_all(built.stdout) if d]
        sources = [d for path, documents in _documents_by_file([folder]).items() for d in documents
                   if Path(path).parent == folder]  # a folder below with its own kustomization is that one's
        assert sorted(_key(d) for d in objects) == sorted(_key(d) for d in sources)  # namespaces untouched
        if folder.name == "migrations":  # the migration Jobs: each service's own repository
            jobs = {c["image"] for d in objects if d["kind"] == "Job" for c in d["spec"]["template"]["spec"]["containers"]}
            assert jobs == {f"ghcr.io/acme/business/{name}:unreleased" for name in business_app.services
                            if name != "api-gateway"}
            continue
        images = {c["image"] for d in objects if d["kind"] == "Deployment"
                  and d["metadata"]["labels"].get("app.kubernetes.io/component") != "exporter"
                  for c in d["spec"]["template"]["spec"]["containers"]}
        assert images == {f"ghcr.io/acme/business/{name}:unreleased" for name in business_app.services}
        exporters = {c["image"] for d in objects if d["kind"] == "Deployment" and d["metadata"]["name"].endswith(
            "-exporter") for c in d["spec"]["template"]["spec"]["containers"]}
        assert exporters == set(EXPORTER_IMAGES.values())  # kustomize's images leave the pinned releases alone


def test_a_release_sets_one_slot_image_through_the_kustomization(tree: list[Path], tmp_path: Path) -> None:
    """What `kustomize edit set image api-gateway-green=...` writes, built: only the green slot changes."""
    kubectl = optional_tool("kubectl")
    folder = tmp_path / "production"
    subprocess.run(["cp", "-r", str(tree[0]), str(folder)], check=True)
    document = yaml.safe_load((folder / "kustomization.yaml").read_text())
    entry = next(e for e in document["images"] if e["name"] == "api-gateway-green")
    entry["newTag"] = "main-0123abc"
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(document))
    built = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=True)
    images = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
              for d in yaml.safe_load_all(built.stdout) if d and d["kind"] == "Deployment"}
    assert images["api-gateway-green"] == "ghcr.io/acme/business/api-gateway:main-0123abc"
    assert images["api-gateway-blue"] == "ghcr.io/acme/business/api-gateway:unreleased"


# -- the business app, concretely ---------------------------------------------------------------------


def test_production_runs_blue_green_with_the_slot_left_to_the_deploy_job(production: list[dict[str, Any]]) -> None:
    deployments = sorted(d["metadata"]["name"] for d in of_kind(production, "Deployment"))
    assert deployments == sorted([*(f"{s}-{slot}" for s in ("api-gateway", "auth-service", "business-service",
                                                            "inventory-service", "invoice-service")
                                    for slot in ("blue", "green")),
                                  "postgres-exporter", "redis-exporter"])  # one exporter each, never in slots
    green = named(production, "Deployment", "api-gateway-green")
    assert green["spec"]["template"]["metadata"]["labels"]["bizinfra.dev/slot"] == "green"
    assert "replicas" not in green["spec"]  # re-applying must not resize a slot the deploy job scaled
    service = named(production, "Service", "api-gateway")
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "api-gateway",
                                           "app.kubernetes.io/part-of": "business-app"}
    hpa = named(production, "HorizontalPodAutoscaler", "api-gateway-green")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    budget = named(production, "PodDisruptionBudget", "api-gateway-blue")
    assert budget["spec"]["selector"]["matchLabels"]["bizinfra.dev/slot"] == "blue"


def test_staging_rolls_one_deployment_per_service(staging: list[dict[str, Any]]) -> None:
    deployment = named(staging, "Deployment", "invoice-service")
    assert deployment["spec"]["replicas"] == 2  # the spec's default, 2..2: no autoscaler
    assert "topologySpreadConstraints" not in deployment["spec"]["template"]["spec"]
    assert not [h for h in of_kind(staging, "HorizontalPodAutoscaler")
                if h["metadata"]["name"] == "invoice-service"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_production_spreads_pods_across_zones(production: list[dict[str, Any]]) -> None:
    spread = named(production, "Deployment", "auth-service-blue")["spec"]["template"]["spec"]
    zone = next(c for c in spread["topologySpreadConstraints"] if c["topologyKey"] == "topology.kubernetes.io/zone")
    assert zone["whenUnsatisfiable"] == "DoNotSchedule"  # production is highly_available in the spec
    assert zone["labelSelector"]["matchLabels"]["bizinfra.dev/slot"] == "blue"


def test_the_public_host_reaches_the_gateway_through_the_alb(production: list[dict[str, Any]],
                                                              staging: list[dict[str, Any]]) -> None:
    # Terraform owns the load balancer (docs/edge.md); the gateway's pods join its target group by name.
    for documents, env in ((production, "production"), (staging, "staging")):
        binding = named(documents, "TargetGroupBinding", "api-gateway")["spec"]
        assert binding["serviceRef"] == {"name": "api-gateway", "port": 3000}
        assert binding["targetType"] == "ip"
        assert binding["targetGroupName"].startswith(f"business-app-{env}-")
        assert len(binding["targetGroupName"]) <= 32
    assert [d for d in production if d["kind"] in ("Ingress", "IngressClass")] == []
    gateway = named(production, "NetworkPolicy", "api-gateway-traffic")["spec"]
    public = next(rule for rule in gateway["ingress"] if "ipBlock" in rule["from"][0])
    # 10.0.0.0/16 cut in sixteen: the first two /20s are the public subnets of the two zones
    assert [peer["ipBlock"]["cidr"] for peer in public["from"]] == ["10.0.0.0/20", "10.0.16.0/20"]
    assert public["ports"] == [{"protocol": "TCP", "port": 3000}]
    assert "ingress-nginx" not in json.dumps(production)


def test_data_stores_are_reached_in_the_private_subnets(production: list[dict[str, Any]]) -> None:
    auth = named(production, "NetworkPolicy", "auth-service-traffic")["spec"]
    stores = {(rule["ports"][0]["port"], peer["ipBlock"]["cidr"]) for rule in auth["egress"] for peer in rule["to"]}
    assert stores == {(port, cidr) for port in (5432, 6379) for cidr in ("10.0.128.0/20", "10.0.144.0/20")}
    assert named(production, "NetworkPolicy", "auth-service-traffic")["spec"]["ingress"][0]["from"] == \
        [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "api-gateway",
                                          "app.kubernetes.io/part-of": "business-app"}}}]


def test_secrets_come_from_secrets_manager_by_reference(production: list[dict[str, Any]],
                                                        files: dict[str, bytes]) -> None:
    store = named(production, "ClusterSecretStore", "aws-secrets-manager")
    assert store["spec"]["provider"]["aws"] == {"service": "SecretsManager", "region": "ap-south-1"}
    assert "namespace" not in store["metadata"]
    auth = named(production, "ExternalSecret", "auth-service-secrets")["spec"]
    assert auth["refreshInterval"] == "1h"
    own_role = "business-app/production/postgres/auth_service"  # its database's role, no shared one
    assert {d["secretKey"]: d["remoteRef"] for d in auth["data"]} == {
        "DB_PASSWORD": {"key": own_role, "property": "password"},
        "DB_USERNAME": {"key": own_role, "property": "username"},
        "DB_TLS_SERVERNAME": {"key": "business-app/production/postgres/endpoint", "property": "host"},
        "JWT_SECRET": {"key": "business-app/production/jwt-secret"},
        "REDIS_PASSWORD": {"key": "business-app/production/redis", "property": "password"},
        "REDIS_TLS_SERVERNAME": {"key": "business-app/production/redis/endpoint", "property": "host"},
    }
    # the connection strings, composed by the operator beside the parts, TLS checked against the endpoint's name
    assert auth["target"]["template"] == {"engineVersion": "v2", "mergePolicy": "Merge", "data": {
        "DATABASE_URL": "postgresql://{{ .DB_USERNAME | urlquery }}:{{ .DB_PASSWORD | urlquery }}"
                        "@{{ .DB_TLS_SERVERNAME }}:5432/auth_service?sslmode=verify-full&sslrootcert=/etc/ssl/rds/ca.pem",
        "REDIS_URL": "rediss://:{{ .REDIS_PASSWORD | urlquery }}@{{ .REDIS_TLS_SERVERNAME }}:6379"}}
    assert not re.search(rb"(?i)password\s*[:=]\s*\S", b"".join(files.values()).replace(b"property: password", b""))


def test_velero_backs_up_the_namespace_daily_for_thirty_days(production: list[dict[str, Any]]) -> None:
    schedule = named(production, "Schedule", "business-app-backup")
    assert schedule["metadata"]["namespace"] == "velero"
    assert schedule["spec"]["schedule"] == "0 2 * * *"
    assert schedule["spec"]["template"]["ttl"] == "720h0m0s"
    assert schedule["spec"]["template"]["includedNamespaces"] == ["business-app"]


def test_the_namespace_enforces_the_restricted_pod_security_standard(production: list[dict[str, Any]]) -> None:
    labels = named(production, "Namespace", "business-app")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_environment_variables_reach_the_shared_config_map(production: list[dict[str, Any]]) -> None:
    data = named(production, "ConfigMap", "business-app-config")["data"]
    assert data == {"ENVIRONMENT": "production", "NODE_ENV": "production", "PLATFORM": "business-app"}
    gateway = named(production, "ConfigMap", "api-gateway-config")["data"]
    assert gateway["AUTH_SERVICE_URL"] == "http://auth-service:3001"


def test_the_readme_names_the_add_ons_and_their_crd_versions(files: dict[str, bytes]) -> None:
    readme = files["kubernetes/production/README.md"].decode()
    for addon in ("AWS Load Balancer Controller", "External Secrets Operator", "prometheus-operator", "Velero",
                  "metrics-server"):
        assert addon in readme
    assert "v2.9.0" in readme and "kubectl apply -k kubernetes/production" in readme


def test_the_kustomization_lists_every_file_and_one_image_per_deployment(files: dict[str, bytes]) -> None:
    document = kustomization(files, "staging")
    assert "namespace" not in document  # it would move the velero Schedule into the app namespace
    listed = {f"kubernetes/staging/{name}" for name in document["resources"]}
    assert listed == {p for p in files if p.startswith("kubernetes/staging/") and p.endswith(".yaml")
                      and not p.endswith("kustomization.yaml") and not p.startswith("kubernetes/staging/migrations/")}
    assert [e["name"] for e in document["images"]] == ["api-gateway", "auth-service", "business-service",
                                                       "inventory-service", "invoice-service"]


def test_an_environment_override_changes_only_that_environment(business_app: Platform) -> None:
    spec = business_app.model_dump(mode="json", exclude_none=True)
    spec["environments"]["staging"]["services"] = {"auth-service": {"replicas": {"min": 1, "max": 4}}}
    documents = environments(rendered(Platform.model_validate(spec)))
    assert named(documents["staging"], "HorizontalPodAutoscaler", "auth-service")["spec"]["maxReplicas"] == 4
    assert not [h for h in of_kind(documents["production"], "HorizontalPodAutoscaler")
                if h["spec"]["scaleTargetRef"]["name"].startswith("auth-service")]
    assert not [b for b in of_kind(documents["staging"], "PodDisruptionBudget")
                if b["metadata"]["name"] == "auth-service"]  # one replica allows no disruption budget


def test_compiling_twice_gives_the_same_bytes(business_app: Platform, files: dict[str, bytes]) -> None:
    assert rendered(business_app, BUNDLED_SOURCE) == files
    assert [a.path for a in compile_kubernetes(resolve(business_app, "x"))][:3] == [
        "kubernetes/production/namespace.yaml", "kubernetes/production/configmaps.yaml",
        "kubernetes/production/secrets.yaml"]


# -- the validators have teeth --------------------------------------------------------------------------


def _broken(production: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(named(production, kind, name)))
    return document


def test_kubernetes_validate_rejects_a_misspelled_field(production: list[dict[str, Any]], tmp_path: Path) -> None:
    deployment = _broken(production, "Deployment", "api-gateway-blue")
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
    folder = tmp_path / "env"
    folder.mkdir()
    (folder / "bad.yaml").write_text(yaml.safe_dump(deployment))
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["bad.yaml"]}))
    problems = validate_folders(require_tool("kubernetes-validate"), [folder])
    assert any("readOnlyRootFileSystem" in p for p in problems), problems
    assert document_problems([deployment]) != []


def test_an_object_no_validator_covers_is_a_problem(tmp_path: Path) -> None:
    folder = tmp_path / "env"
    folder.mkdir()
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "n"}}
    (folder / "widget.yaml").write_text(yaml.safe_dump(unknown))
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["widget.yaml", "gone.yaml"]}))
    problems = validate_folders(require_tool("kubernetes-validate"), [folder])
    assert any("widget" in p and "not accepted" in p for p in problems), problems
    assert any("gone.yaml, which does not exist" in p for p in problems), problems


def test_the_crd_schemas_reject_unknown_fields_and_wrong_scope(production: list[dict[str, Any]]) -> None:
    external = _broken(production, "ExternalSecret", "auth-service-secrets")
    external["spec"]["refreshInterval"] = "1h"
    external["spec"]["target"]["creationPolicy"] = "Sometimes"
    external["spec"]["secretStoreRef"]["nmae"] = "typo"
    store = _broken(production, "ClusterSecretStore", "aws-secrets-manager")
    store["metadata"]["namespace"] = "business-app"
    schedule = _broken(production, "Schedule", "business-app-backup")
    schedule["spec"]["template"]["ttl"] = 720
    problems = "\n".join(document_problems([external, store, schedule]))
    assert "Sometimes" in problems
    assert "'nmae' was unexpected" in problems
    assert "ClusterSecretStore/aws-secrets-manager: metadata.namespace" in problems
    assert "Schedule/business-app-backup: spec.template.ttl" in problems


def _documents_by_file(folders: list[Path]) -> dict[Path, list[dict[str, Any]]]:
    return {path: [d for d in yaml.safe_load_all(path.read_text()) if d]
            for folder in folders for path in sorted(folder.rglob("*.yaml")) if path.name != "kustomization.yaml"}


def _key(document: dict[str, Any]) -> tuple[str, str, str]:
    return document["kind"], document["metadata"].get("namespace", ""), document["metadata"]["name"]
