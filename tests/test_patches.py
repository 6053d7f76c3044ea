"""The escape hatch: patches apply last, exactly as written, or fail loudly."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bizinfra.pipeline import build_files
from bizinfra.spec.loader import parse_spec
from bizinfra.spec.patches import Operation, PatchError, apply_operations

SPEC = """\
name: shop
domain: shop.example.com
services:
  cart: {port: 3000}
patches:
  - file: kubernetes/production/namespace.yaml
    ops:
      - {op: add, path: /metadata/labels/team, value: payments}
      - {op: add, path: /metadata/annotations, value: {owner: "team@example.com"}}
  - file: kubernetes/production/configmaps.yaml
    select: {kind: ConfigMap, name: cart-config}
    ops:
      - {op: replace, path: /data/PORT, value: "3000"}
      - {op: add, path: /data/FEATURE_FLAGS, value: "on"}
      - {op: remove, path: /metadata/labels/app.kubernetes.io~1component}
"""


def documents(files: dict[str, bytes], path: str) -> list[Any]:
    return list(yaml.safe_load_all(files[path]))


def test_patches_change_exactly_the_named_documents() -> None:
    patched = build_files([parse_spec(SPEC, "specs/shop.yaml")])
    plain = build_files([parse_spec(SPEC.split("patches:")[0], "specs/shop.yaml")])
    namespace = documents(patched, "shop/kubernetes/production/namespace.yaml")[0]
    assert namespace["metadata"]["labels"]["team"] == "payments"
    assert namespace["metadata"]["annotations"] == {"owner": "team@example.com"}
    shared, cart = documents(patched, "shop/kubernetes/production/configmaps.yaml")
    assert cart["data"]["FEATURE_FLAGS"] == "on"
    assert "app.kubernetes.io/component" not in cart["metadata"]["labels"]
    assert shared == documents(plain, "shop/kubernetes/production/configmaps.yaml")[0]
    changed = {path for path in plain if plain[path] != patched[path]}
    assert changed == {"shop/kubernetes/production/namespace.yaml", "shop/kubernetes/production/configmaps.yaml"}


@pytest.mark.parametrize(("document", "operation", "expected"), [
    ({"a": [1, 2]}, {"op": "add", "path": "/a/1", "value": 9}, {"a": [1, 9, 2]}),
    ({"a": [1, 2]}, {"op": "add", "path": "/a/-", "value": 9}, {"a": [1, 2, 9]}),
    ({"a": [1, 2]}, {"op": "replace", "path": "/a/0", "value": 9}, {"a": [9, 2]}),
    ({"a": [1, 2]}, {"op": "remove", "path": "/a/0"}, {"a": [2]}),
    ({"a/b": {"~": 1}}, {"op": "replace", "path": "/a~1b/~0", "value": 2}, {"a/b": {"~": 2}}),
    ({"a": 1}, {"op": "add", "path": "/a", "value": None}, {"a": None}),
])
def test_operations_follow_rfc_6902(document: Any, operation: dict[str, Any], expected: Any) -> None:
    assert apply_operations(document, (Operation.model_validate(operation),)) == expected


@pytest.mark.parametrize(("operation", "message"), [
    ({"op": "replace", "path": "/b", "value": 1}, "/b does not exist (no key 'b')"),
    ({"op": "remove", "path": "/a/5"}, "/a/5 does not exist (index 5 is past the end of a list of 2)"),
    ({"op": "add", "path": "/x/y", "value": 1}, "/x/y does not exist (/x is not there)"),
    ({"op": "add", "path": "/a/01", "value": 1}, "/a/01 does not exist ('01' is not a list index)"),
])
def test_an_operation_that_does_not_apply_is_an_error(operation: dict[str, Any], message: str) -> None:
    with pytest.raises(PatchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        apply_operations({"a": [1, 2]}, (Operation.model_validate(operation),))


_keys = st.text("abcdef~/", min_size=1, max_size=4)
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3), max_leaves=8)


@given(st.dictionaries(_keys, _json, min_size=1), _keys, _json)
def test_add_then_read_back_gives_the_value_and_leaves_the_input_alone(document: dict[str, Any], key: str,
                                                                        value: Any) -> None:
    before = yaml.safe_dump(document)
    pointer = "/" + key.replace("~", "~0").replace("/", "~1")
    patched = apply_operations(document, (Operation(op="add", path=pointer, value=value),))
    assert patched[key] == value
    assert {k: v for k, v in patched.items() if k != key} == {k: v for k, v in document.items() if k != key}
    assert yaml.safe_dump(document) == before
