"""Images the cluster can pull: a pull Secret fed from Secrets Manager for GHCR (and any registry but ECR), or
`registry: ecr` with repositories, a push role and the nodes' own role."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from bizinfra.spec.models import Platform
from bizinfra.validate.terraform import check_folder, load_schema
from tests.support import bundled_tree
from tests.support.rules import files_of, problems

ECR_SPEC: dict[str, Any] = {
    "name": "shop", "domain": "shop.example.com", "registry": "ecr", "delivery": {"repository": "acme/shop"},
    "services": {"web": {"port": 8080, "public": {"host": "www.shop.example.com"}}, "cart": {"port": 8081}},
    "environments": {"staging": {"runs_on": "kubernetes", "branch": "develop"},
                     "production": {"runs_on": "kubernetes", "branch": "main"}}}


def documents(files: dict[str, bytes], path: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(files[path]) if d]


def test_every_service_pod_pulls_with_the_token_from_secrets_manager() -> None:
    files = bundled_tree()
    for env in ("staging", "production"):
        folder = f"business-app/kubernetes/{env}"
        deployments = [d for d in documents(files, f"{folder}/workloads.yaml") if d["kind"] == "Deployment"]
        assert deployments and all(d["spec"]["template"]["spec"]["imagePullSecrets"] == [
            {"name": "registry-credentials"}] for d in deployments)
        (pull,) = [d for d in documents(files, f"{folder}/secrets.yaml")
                   if d["metadata"]["name"] == "registry-credentials"]
        assert pull["spec"]["target"]["template"]["type"] == "kubernetes.io/dockerconfigjson"
        assert {item["remoteRef"]["key"] for item in pull["spec"]["data"]} == {f"business-app/{env}/registry"}
        shell = json.loads(files[f"business-app/terraform/{env}/registry.tf.json"])
        secret = shell["resource"]["aws_secretsmanager_secret"]["registry"]
        assert secret["name"] == f"business-app/{env}/registry"
        assert "aws_secretsmanager_secret_version" not in shell["resource"]  # a person stores the token


def test_ecr_repositories_push_role_and_no_pull_secret() -> None:
    files = files_of(ECR_SPEC)
    assert problems(files) == []
    owner = json.loads(files["shop/terraform/production/registry.tf.json"])["resource"]
    assert sorted(r["name"] for r in owner["aws_ecr_repository"].values()) == ["shop/cart", "shop/web"]
    for repository in owner["aws_ecr_repository"].values():
        assert repository["image_tag_mutability"] == "IMMUTABLE"
        assert repository["image_scanning_configuration"] == {"scan_on_push": True}
        assert repository["encryption_configuration"]["encryption_type"] == "KMS"
    rules = json.loads(owner["aws_ecr_lifecycle_policy"]["web"]["policy"])["rules"]
    assert rules[-1]["selection"] == {"countNumber": 100, "countType": "imageCountMoreThan", "tagStatus": "any"}
    trust = json.loads(files["shop/terraform/production/registry.tf.json"])["data"]["aws_iam_policy_document"]
    subjects = [c["values"] for c in trust["image_push_trust"]["statement"][0]["condition"] if c["variable"].endswith(
        ":sub")]
    assert subjects == [["repo:acme/shop:ref:refs/heads/develop", "repo:acme/shop:ref:refs/heads/main"]]
    assert "shop/terraform/staging/registry.tf.json" not in files  # one account, one set of repositories
    for version in ("5.100.0", "6.47.0"):
        folder = {p.rsplit("/", 1)[1]: json.loads(c) for p, c in files.items()
                  if p.startswith("shop/terraform/production/") and p.count("/") == 3 and p.endswith(".tf.json")}
        assert check_folder(folder, load_schema(version)) == []
    for env in ("staging", "production"):
        assert not any("imagePullSecrets" in d["spec"]["template"]["spec"]
                       for d in documents(files, f"shop/kubernetes/{env}/workloads.yaml") if d["kind"] == "Deployment")
        kustomization = documents(files, f"shop/kubernetes/{env}/kustomization.yaml")[0]
        assert all("newName" not in image for image in kustomization["images"])
    build = yaml.safe_load(files["shop/github/workflows/ci-cd.yml"])["jobs"]["build"]
    assert build["permissions"] == {"contents": "read", "id-token": "write"}
    (meta,) = [s for s in build["steps"] if s.get("id") == "meta"]
    assert meta["with"]["tags"] == "type=sha,format=long\n"  # immutable tags: no branch tag to move


@pytest.mark.parametrize(("change", "message"), [
    ({"delivery": {}}, "registry: with registry 'ecr' CI pushes by OIDC"),
    ({"services": {"web": {"image": "ghcr.io/acme/web"}}}, "services.web.image: with registry 'ecr'"),
    ({"registry": "", "services": {"web": {"secrets": ["REGISTRY"]}}}, "services.web.secrets[0]: 'REGISTRY' would be"),
])
def test_the_spec_refuses_what_the_registry_cannot_hold(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Platform.model_validate({**ECR_SPEC, **change})
