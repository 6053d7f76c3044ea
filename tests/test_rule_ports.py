"""Rule `ports agree`: a service's port is the same everywhere it is written, compose files included wherever the
compose target puts them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bizinfra.cli import main
from bizinfra.render import to_yaml
from bizinfra.validate import tree as validate_tree
from tests.strategies import platform_specs
from tests.support import bundled_tree
from tests.support.rules import edit_json, edit_yaml, files_of, problems, replace

RULE = "ports agree"
EXPORTERS = "business-app/kubernetes/staging/exporters.yaml"


def test_the_generated_tree_passes() -> None:
    assert problems(bundled_tree(), RULE) == []


@pytest.mark.slow
@settings(max_examples=20)  # slow: a whole tree per example; the rule's reach is what varies
@given(platform_specs(), st.data())
def test_a_service_port_changed_by_a_patch_is_named(spec: dict[str, Any], data: st.DataObject) -> None:
    service = data.draw(st.sampled_from(sorted(n for n, s in spec["services"].items() if s.get("kind", "web") == "web")))
    env = data.draw(st.sampled_from(["staging", "production"]))
    port = spec["services"][service]["port"]
    wrong = port + 1 if port < 65000 else port - 1
    spec = {**spec, "patches": [{"file": f"kubernetes/{env}/workloads.yaml",
                                 "select": {"kind": "Service", "name": service},
                                 "ops": [{"op": "replace", "path": "/spec/ports/0/port", "value": wrong}]}]}
    assert problems(files_of(spec), RULE) == [
        f"{spec['name']}/kubernetes/{env}/workloads.yaml: Service/{service}: port is {wrong}, "
        f"but {service}'s port is {port}"]


@pytest.mark.slow
@settings(max_examples=20)  # slow: a whole tree per example
@given(platform_specs(), st.data())
def test_a_wrong_port_build_argument_in_compose_or_ci_is_named(spec: dict[str, Any], data: st.DataObject) -> None:
    service = data.draw(st.sampled_from(sorted(n for n, s in spec["services"].items() if "port" in s)))
    port = spec["services"][service]["port"]
    wrong = port + 1 if port < 65000 else port - 1
    files = files_of(spec)
    if data.draw(st.sampled_from(["compose", "ci"])) == "compose":
        path, obj = f"{spec['name']}/compose/docker-compose.yml", f"service {service}"
        (document,) = yaml.safe_load_all(files[path])
        document["services"][service]["build"]["args"]["PORT"] = str(wrong)
        files = {**files, path: to_yaml(document).encode()}
    else:
        path, obj = f"{spec['name']}/github/workflows/ci-cd.yml", f"job build (service {service})"
        files = replace(files, path, f"PORT={port}\n".encode(), f"PORT={wrong}\n".encode())  # only its build-args
    assert problems(files, RULE) == [f"{path}: {obj}: build argument PORT is {wrong}, but {service}'s port is {port}"]


def test_a_build_without_a_port_argument_is_named() -> None:
    path = "business-app/github/workflows/ci-cd.yml"
    files = replace(bundled_tree(), path, b"PORT=3001\n", b"")
    assert problems(files, RULE) == [
        f"{path}: job build (service auth-service): build argument PORT is missing, but auth-service's port is 3001"]


def test_a_port_written_into_the_shared_dockerfile_is_named() -> None:
    path = "business-app/docker/Dockerfile"
    line = bundled_tree()[path].decode().splitlines().index("COPY . .") + 2
    files = replace(bundled_tree(), path, b"COPY . .\n", b"COPY . .\nEXPOSE 3001\n")
    assert problems(files, RULE) == [
        f"{path}: line {line}: EXPOSE hard-codes port 3001; every service's port comes from the PORT build argument"]


def test_a_load_balancer_rule_to_a_private_port_is_named() -> None:
    path = "business-app/terraform/staging/network.tf.json"

    def retarget(document: dict[str, Any]) -> None:
        rule = document["resource"]["aws_vpc_security_group_ingress_rule"]["nodes_from_load_balancer_to_api-gateway"]
        rule["from_port"] = rule["to_port"] = 3001
    assert problems(edit_json(bundled_tree(), path, retarget), RULE) == [
        f"{path}: aws_vpc_security_group_ingress_rule.nodes_from_load_balancer_to_api-gateway: opens ports 3001-3001 between "
        "the load balancer and the nodes; the public services' ports are [3000]",
        f"{path}: aws_vpc_security_group_ingress_rule: no rule lets the load balancer reach the nodes on public "
        "port 3000"]


# -- several compose environments: one compose file per environment folder ----------------------------------------------

TWO_COMPOSE_ENVIRONMENTS = """\
name: tiny
domain: tiny.example.com
services:
  web: {port: 8080, public: {host: www.tiny.example.com}, calls: [api]}
  api: {port: 8081, uses: [cache], secrets: [API_TOKEN]}
datastores:
  cache: {engine: redis, version: "7"}
environments:
  development: {runs_on: compose}
  demo: {runs_on: compose, production: false}
  staging: {branch: develop}
"""


def test_a_port_corrupted_in_one_of_several_compose_files_is_named_by_validate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tiny.yaml").write_text(TWO_COMPOSE_ENVIRONMENTS)
    out = tmp_path / "out"
    assert main(["generate", "--spec", str(tmp_path / "tiny.yaml"), "--out", str(out)]) == 0
    demo = out / "tiny/compose/demo/docker-compose.yml"
    assert "- 127.0.0.1:8081:8081\n" in demo.read_text()
    demo.write_text(demo.read_text().replace("- 127.0.0.1:8081:8081\n", "- 127.0.0.1:8081:8089\n"))
    monkeypatch.setattr(validate_tree, "_tool", lambda name: None)  # the rules and schemas need no tool
    capsys.readouterr()

    assert main(["validate", "--out", str(out)]) == 1

    lines = capsys.readouterr().out.splitlines()
    assert "tiny/compose/demo/docker-compose.yml: service api: container port is 8089, but api's port is 8081" in lines
    assert "  passed   compose-spec schema (2 files)" in lines  # both environments' files are judged


def test_each_compose_file_of_several_is_read() -> None:
    files = files_of(yaml.safe_load(TWO_COMPOSE_ENVIRONMENTS))
    assert problems(files, RULE) == []
    for env in ("development", "demo"):
        path = f"tiny/compose/{env}/docker-compose.yml"
        broken = replace(files, path, b'PORT: "8080"\n', b'PORT: "8000"\n', count=2)  # environment and build arg
        assert problems(broken, RULE) == [f"{path}: service web: PORT is 8000, but web's port is 8080",
                                          f"{path}: service web: build argument PORT is 8000, but web's port is 8080"]


def test_a_pod_monitor_scraping_a_port_its_pods_do_not_serve_is_named() -> None:
    files = edit_yaml(bundled_tree(), EXPORTERS, "PodMonitor", "redis-exporter",
                      lambda monitor: monitor["spec"]["podMetricsEndpoints"][0].update(portNumber=9187))
    assert problems(files, RULE) == [
        f"{EXPORTERS}: PodMonitor/redis-exporter: scrapes port 9187, but the pods it selects serve [9121]"]
