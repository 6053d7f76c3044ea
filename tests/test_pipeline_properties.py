"""Whole random platforms through the whole pipeline: load, resolve, compile, render."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given

from bizinfra.pipeline import build_files
from bizinfra.plan import resolve
from bizinfra.render import MARKER
from bizinfra.spec.loader import Spec, parse_platform
from bizinfra.spec.models import Platform
from tests.conftest import SPECS, tree
from tests.strategies import platform_specs, platforms


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
def test_the_plan_states_each_shared_fact_once(platform: Platform) -> None:
    for env in resolve(platform, "random.yaml").environments:
        ports = {service.name: service.port for service in env.services}
        for service in env.services:
            assert service.config["PORT"] == str(service.port)
            urls = {k: v for k, v in service.config.items() if k.endswith("_URL")}
            callees = {f"{c.upper().replace('-', '_')}_URL": f"http://{c}:{ports[c]}" for c in service.calls}
            assert callees.items() <= urls.items()
            assert service.callers == tuple(sorted(s.name for s in env.services if service.name in s.calls))
            assert all(callee in ports for callee in service.calls)
            assert len({ref.variable for ref in service.secrets}) == len(service.secrets)
            assert service.millicores[0] <= service.millicores[1]
            assert service.memory_bytes[0] <= service.memory_bytes[1]
        for store in env.datastores:
            users = [env.service(name) for name in store.users]
            assert store.users == tuple(sorted(s.name for s in env.services if store.name in s.uses))
            if store.engine == "postgres":
                assert store.databases == tuple(sorted({u.database for u in users if u.database}))
            for user in users:
                assert user.config[f"{store.env_prefix}_HOST"] == store.host
                assert user.config[f"{store.env_prefix}_PORT"] == str(store.port)
                assert any(ref.key == store.credentials for ref in user.secrets)


def test_output_is_identical_across_runs_and_hash_seeds(tmp_path: Path) -> None:
    trees = []
    for seed in ("0", "1", "4242"):
        out = tmp_path / f"out-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "bizinfra", "generate", "--spec", str(SPECS), "--out", str(out)],
                       check=True, env=env, capture_output=True, cwd=SPECS.parent)
        trees.append(tree(out))
    assert trees[0] and trees[0] == trees[1] == trees[2]
