"""Whole random platforms through the whole pipeline: load, resolve, compile, render."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bizinfra.pipeline import build_files
from bizinfra.plan import EnvironmentPlan, PlatformPlan, resolve
from bizinfra.render import MARKER, render
from bizinfra.spec.loader import Spec, parse_platform
from bizinfra.spec.models import Platform
from bizinfra.targets import compile_plan
from tests.strategies import platform_specs, platforms
from tests.support import SPECS, tree


@given(platform_specs())
def test_a_random_spec_written_as_yaml_loads_to_the_same_platform(spec: dict[str, Any]) -> None:
    text = yaml.safe_dump(spec, allow_unicode=True, sort_keys=False)
    assert parse_platform(text, "random.yaml") == Platform.model_validate(spec)


@given(platforms())
def test_a_platform_dumped_back_to_yaml_loads_to_an_equal_model(platform: Platform) -> None:
    text = yaml.safe_dump(platform.model_dump(mode="json"), allow_unicode=True)
    assert parse_platform(text, "dumped.yaml") == platform


@given(platforms())
def test_random_platforms_render_the_same_bytes_twice(platform: Platform) -> None:
    specs = [Spec("specs/random.yaml", platform)]
    files = build_files(specs)
    assert files == build_files(specs)
    assert files, "a platform must never compile to nothing"
    for path, content in files.items():
        assert path.startswith(f"{platform.name}/")
        assert MARKER.encode() in content[:300]
        assert b"\r" not in content and content.endswith(b"\n") and not content.endswith(b"\n\n")


@given(platforms())
def test_the_plan_relates_its_facts_once(platform: Platform) -> None:
    for env in resolve(platform, "random.yaml").environments:
        for service in env.services:
            assert service.callers == tuple(sorted(s.name for s in env.services if service.name in s.calls))
            assert all(callee in {s.name for s in env.services} for callee in service.calls)
            assert len({ref.variable for ref in service.secrets}) == len(service.secrets)
            assert service.millicores[0] <= service.millicores[1]
            assert service.memory_bytes[0] <= service.memory_bytes[1]
        for store in env.datastores:
            users = [env.service(name) for name in store.users]
            assert store.users == tuple(sorted(s.name for s in env.services if store.name in s.uses))
            if store.engine == "postgres":
                assert store.databases == tuple(sorted({u.database for u in users if u.database}))
            # each user logs in with its database's own role in the cloud, with the store's one owner in compose
            for user in users:
                credentials = store.role(user.database).credentials if store.roles and user.database \
                    else store.credentials
                assert any(ref.key == credentials for ref in user.secrets)
            if store.roles:
                assert [role.database for role in store.roles] == list(store.databases)
                assert all(user.name in store.role(user.database).users for user in users if user.database)


# -- each fact stated once: change it in the plan alone, and every file that shows it follows -----------------

SENTINELS = ("47113", "52021", "58337", "61229")  # ports no random platform draws twice and no file shows


def rendered(plan: PlatformPlan) -> dict[str, bytes]:
    return {artifact.path: render(artifact, plan.source) for artifact in compile_plan(plan)}


def token(value: str) -> re.Pattern[bytes]:
    """The value as a whole token: not part of a longer number, digest or name."""
    return re.compile(rb"(?<![0-9A-Za-z])" + re.escape(value.encode()) + rb"(?![0-9A-Za-z])")


def with_port(plan: PlatformPlan, name: str, port: int) -> PlatformPlan:
    """The plan with one service's or data store's port changed, in every environment, and nothing else."""
    def environment(env: EnvironmentPlan) -> EnvironmentPlan:
        return dataclasses.replace(
            env, services=tuple(dataclasses.replace(s, port=port) if s.name == name else s for s in env.services),
            datastores=tuple(dataclasses.replace(d, port=port) if d.name == name else d for d in env.datastores))
    return dataclasses.replace(plan, environments=tuple(environment(env) for env in plan.environments))


def with_spec_port(platform: Platform, name: str, port: int) -> Platform:
    """The platform as if the spec had said `port` for that service or data store."""
    def moved(entries: dict[str, Any]) -> dict[str, Any]:
        return {key: value.model_copy(update={"port": port}) if key == name else value for key, value in entries.items()}
    return platform.model_copy(update={"services": moved(platform.services), "datastores": moved(platform.datastores)})


@settings(max_examples=max(5, settings.default.max_examples // 4))
@given(platforms(max_services=4), st.data())
def test_a_port_changed_in_the_plan_alone_moves_every_file_that_shows_it(platform: Platform, data: st.DataObject) -> None:
    """Resolve a spec whose service or data store listens on one sentinel port, change that port to another in
    the plan alone, and compile: the files are the first ones with the sentinel replaced, byte for byte. A copy
    made at resolve time (a string of the port, a URL) keeps the first sentinel; a target reading the spec
    again, or deriving the port another way, leaves a file that did not move."""
    names = [*(n for n, s in platform.services.items() if s.port is not None), *platform.datastores]  # what listens
    name = data.draw(st.sampled_from(names), label="service or data store")
    taken = {str(s.port) for s in platform.services.values()} | {str(platform.datastore_port(d)) for d in platform.datastores}
    base = b"".join(rendered(resolve(platform, "specs/random.yaml")).values())
    first, second = [v for v in SENTINELS if v not in taken and not token(v).search(base)][:2]
    plan = resolve(with_spec_port(platform, name, int(first)), "specs/random.yaml")
    one, other = rendered(plan), rendered(with_port(plan, name, int(second)))
    assert sorted(one) == sorted(other)
    assert any(token(first).search(content) for content in one.values()), "the port shows in no file"
    for path in sorted(one):
        assert not token(first).search(other[path]), f"{path} keeps the old port"
        assert token(first).sub(second.encode(), one[path]) == other[path], path


@settings(max_examples=max(5, settings.default.max_examples // 4))
@given(platforms(max_services=3))
def test_the_partition_changed_in_the_plan_alone_moves_every_arn(platform: Platform) -> None:
    """The same experiment for the AWS partition: every ARN a target writes (a workflow's role, a policy's
    resource) reads the plan's, or Terraform's own lookup; none writes `arn:aws:` itself."""
    plan = resolve(platform, "specs/random.yaml")
    def in_partition(partition: str) -> PlatformPlan:
        return dataclasses.replace(plan, environments=tuple(
            dataclasses.replace(env, partition=partition) for env in plan.environments))
    one, other = rendered(in_partition("aws-first")), rendered(in_partition("aws-second"))
    assert any(b"arn:aws-first:" in content for content in one.values()), "no ARN reads the plan's partition"
    for path in sorted(one):
        assert one[path].replace(b"aws-first", b"aws-second") == other[path], path
        assert b"arn:aws:" not in other[path], f"{path} writes the aws partition itself"


@pytest.mark.slow
def test_output_is_identical_across_runs_and_hash_seeds(tmp_path: Path) -> None:
    trees = []
    for seed in ("0", "1", "4242"):
        out = tmp_path / f"out-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "bizinfra", "generate", "--spec", str(SPECS), "--out", str(out)],
                       check=True, env=env, capture_output=True, cwd=SPECS.parent)
        trees.append(tree(out))
    assert trees[0] and trees[0] == trees[1] == trees[2]
