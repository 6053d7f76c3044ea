"""The cross-target invariants together: every rule holds on every random platform (patched or not), and the source
the rules compare against says what the spec says. Each rule's own tests are in tests/test_rule_<rule>.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bizinfra.validate import rules
from bizinfra.validate.rules.edges import declared_edges
from tests.strategies import platform_specs
from tests.support import bundled_tree
from tests.support.rules import files_of, problems


def test_the_rules_keep_their_names_and_order() -> None:
    """`validate` shows them as `invariant: <name>`, in this order; scripts and tests read those lines."""
    assert list(rules.RULES) == ["ports agree", "network edges match the declared ones", "secrets are references",
                                 "no literal secrets", "names agree across targets", "labels reach their objects",
                                 "images are pinned", "buckets agree across targets"]


def _patched(spec: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """The spec with random patches that must keep every invariant: extra labels and annotations on objects."""
    env = draw(st.sampled_from(["staging", "production"]))
    # a web service: the only kind with a Service to annotate (every kind has its ConfigMap)
    service = draw(st.sampled_from(sorted(n for n, s in spec["services"].items() if s.get("kind", "web") == "web")))
    key = draw(st.from_regex(r"team|owner|cost-center|example\.com/tier", fullmatch=True))
    value = draw(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True))
    patches = [
        {"file": f"kubernetes/{env}/namespace.yaml",
         "ops": [{"op": "add", "path": f"/metadata/labels/{key.replace('/', '~1')}", "value": value}]},
        {"file": f"kubernetes/{env}/workloads.yaml", "select": {"kind": "Service", "name": service},
         "ops": [{"op": "add", "path": "/metadata/annotations", "value": {key: value}}]},
        {"file": f"kubernetes/{env}/configmaps.yaml", "select": {"kind": "ConfigMap", "name": f"{service}-config"},
         "ops": [{"op": "add", "path": "/data/FEATURE_FLAGS", "value": value}]},
    ]
    return {**spec, "patches": draw(st.lists(st.sampled_from(patches), min_size=1, max_size=3, unique_by=json.dumps))}


@st.composite
def patched_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec = draw(platform_specs())
    return _patched(spec, draw) if draw(st.booleans()) else spec


@pytest.mark.slow
@given(patched_specs())
def test_every_invariant_holds_on_random_platforms_with_harmless_patches(spec: dict[str, Any]) -> None:
    files = files_of(spec)
    assert problems(files) == []
    # and the source the network rule compares against says what the spec says, not what the policies say
    (platform,) = rules.platforms(files)
    declared = platform.declared()
    stores = set(spec["datastores"])
    assert {name: (d.port, d.public, set(d.calls), set(d.uses)) for name, d in declared.items()} == {
        name: (s.get("port"), "public" in s, set(s["calls"]), set(s["uses"]) & stores)
        for name, s in spec["services"].items()}
    # and what each service reaches outside: its egress as written, s3 for its buckets
    reaches = {name: (sorted(f"{h}:{p}" for h, p in r.hosts) + sorted(r.aws), set(r.buckets))
               for name, r in platform.reaches().items()}
    assert reaches == {name: (sorted(t if ":" in t else f"{t}:443" for t in s["egress"] if "." in t)
                              + sorted({t for t in s["egress"] if "." not in t}
                                       | ({"s3"} if set(s["uses"]) - stores else set())),
                              set(s["uses"]) - stores)
                       for name, s in spec["services"].items() if s["egress"] or set(s["uses"]) - stores}
    ingress, egress = declared_edges(platform, "production")
    calls = {(caller, callee) for caller, s in spec["services"].items() for callee in s["calls"]}
    assert {(a, b) for a, b, _ in egress if b in spec["services"]} == calls
    stores = {store: body["port"] for store, body in spec["datastores"].items()}
    uses = {(user, store, stores[store]) for user, s in spec["services"].items() for store in s["uses"]
            if store in stores}
    assert {edge for edge in egress if edge[1] in stores and edge[0] in spec["services"]} == uses
    bootstraps = {(f"{store}-bootstrap", store, port) for store, port in stores.items()
                  if spec["datastores"][store]["engine"] == "postgres"}
    exporters = {(f"{store}-exporter", store, port) for store, port in stores.items()}
    # each service using PostgreSQL (every one has its own database here) migrates through `<service>-migration`,
    # which reaches each PostgreSQL store the service uses
    migrations = {(f"{user}-migration", store, stores[store]) for user, s in spec["services"].items()
                  for store in s["uses"] if store in stores and spec["datastores"][store]["engine"] == "postgres"}
    assert {edge for edge in egress if edge[1] in stores and edge[0] not in spec["services"]} \
        == bootstraps | exporters | migrations
    assert {b for a, b, _ in ingress if a == "ingress"} == {n for n, s in spec["services"].items() if "public" in s}


def test_rules_that_read_the_declared_facts_do_not_pass_without_them() -> None:
    files = {path: content for path, content in bundled_tree().items() if path != "business-app/docs/architecture.md"}
    expected = ["business-app/docs/architecture.md: services table: missing: the ports and edges the spec declares "
                "cannot be read"]
    assert problems(files, "ports agree") == expected
    assert problems(files, "network edges match the declared ones") == expected
