"""Security defaults on the recovery path: the Kubernetes API endpoint limited to the spec's networks (in the
environment and its standby), and checkov's skips scoped to the environments their reasons hold for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bizinfra.plan import EnvironmentPlan, resolve
from bizinfra.spec.loader import SpecError, load_platform
from bizinfra.targets.terraform import environment_files
from bizinfra.targets.terraform.recovery import standby_files


def production(tmp_path: Path, api_access: str | None) -> EnvironmentPlan:
    spec = tmp_path / "shop.yaml"
    line = f"    api_access: {api_access}\n" if api_access is not None else ""
    spec.write_text("name: shop\ndomain: shop.example.com\nregion: eu-west-1\nservices:\n  web: {port: 8080}\n"
                    "environments:\n  production:\n    branch: main\n    recovery: {region: eu-central-1}\n" + line)
    plan = resolve(load_platform(spec), "shop.yaml")
    return next(env for env in plan.environments if env.name == "production")


def endpoints(files: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = files["eks.tf.json"]["resource"]["aws_eks_cluster"]["main"]["vpc_config"]
    return {key: value for key, value in config.items() if key != "subnet_ids"}


@pytest.mark.parametrize(("api_access", "expected"), [
    (None, {"endpoint_private_access": True, "endpoint_public_access": True, "public_access_cidrs": ["0.0.0.0/0"]}),
    ("[8.8.4.0/24, 1.1.1.1/32]", {"endpoint_private_access": True, "endpoint_public_access": True,
                                  "public_access_cidrs": ["8.8.4.0/24", "1.1.1.1/32"]}),
    ("[]", {"endpoint_private_access": True, "endpoint_public_access": False}),
])
def test_the_api_endpoint_answers_the_declared_networks_here_and_in_the_standby(
        tmp_path: Path, api_access: str | None, expected: dict[str, Any]) -> None:
    env = production(tmp_path, api_access)
    assert endpoints(environment_files(env)) == expected
    assert endpoints(standby_files(env)) == expected


@pytest.mark.parametrize(("api_access", "expected"), [
    ("[10.0.0.0/8]", "shop.yaml:10:18: environments.production.api_access[0]: '10.0.0.0/8' is not a public network: "
                     "the public endpoint sees callers' public addresses (EKS refuses reserved blocks), and the VPC "
                     "reaches the private endpoint anyway"),
    ("[8.8.8.8/24]", "shop.yaml:10:18: environments.production.api_access[0]: '8.8.8.8/24' is not an IPv4 network "
                     "(address/prefix, no host bits): 8.8.8.8/24 has host bits set"),
])
def test_networks_the_endpoint_cannot_take_are_refused_at_their_line(tmp_path: Path, api_access: str,
                                                                      expected: str) -> None:
    with pytest.raises(SpecError) as error:
        production(tmp_path, api_access)
    assert [str(problem).removeprefix(f"{tmp_path}/") for problem in error.value.problems] == [expected]
