"""The YAML emitter: PyYAML's safe loader reads back exactly the documents it was given."""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bizinfra.pipeline import build_files
from bizinfra.spec.loader import load_specs
from bizinfra.yaml_emitter import Commented, to_yaml
from tests.support import SPECS

TRICKY = ["yes", "no", "on", "off", "y", "n", "true", "False", "null", "~", "", "0123", "0o17", "0x1F", "1e3",
          "1_000", "1:20", ".inf", "-.nan", "2001-12-14", ":", "#", "-", "- x", "? x", " lead", "tail ", "a: b",
          "a #b", "{x}", "[x]", "*x", "&x", "!x", "%x", "@x", "`x", "|", ">", "'", '"', "\\", "\t", "a\tb",
          "ünïcødé", "😀", "\u2028", "\x85", "\ufeff", "\x7f", "\x00", "line\nbreak", "\n", "\nlead", "end\n\n",
          " \n", "trailing \nspace", "crlf\r\n", "0E0", "1e5", ".5", "+1", "0o17", "TRUE", "Null", ".NaN"]

_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
            | st.sampled_from(TRICKY) | st.text(max_size=12) | st.text(st.sampled_from(" \n:#-'\"ayo0\t"), max_size=8))
_keys = st.sampled_from(TRICKY) | st.text(max_size=8)
_documents = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
                          max_leaves=25)


@given(_documents)
def test_any_json_shaped_document_reads_back_the_same(document: Any) -> None:
    assert yaml.safe_load(to_yaml(document)) == document


@given(st.sampled_from(TRICKY) | st.text(max_size=12), st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e)))
def test_a_commented_string_reads_back_as_the_string_with_its_comment_on_its_line(text: str, comment: str) -> None:
    document = {"steps": [{"uses": Commented(text, comment)}], "after": Commented(text, comment)}
    written = to_yaml(document)
    assert yaml.safe_load(written) == {"steps": [{"uses": text}], "after": text}
    assert written.splitlines()[-1].endswith(f" # {comment}")
    assert copy.deepcopy(document) == document and copy.deepcopy(document)["after"].comment == comment


def test_an_action_pin_carries_its_release_as_the_comment_dependabot_reads() -> None:
    assert to_yaml({"uses": Commented("actions/checkout@" + "a" * 40, "v7.0.1")}) == (
        "uses: actions/checkout@" + "a" * 40 + " # v7.0.1\n")


@pytest.mark.parametrize("comment", ["two\nlines", "tab\there", "\x85"])
def test_a_comment_that_would_end_its_line_is_refused(comment: str) -> None:
    with pytest.raises(ValueError, match="one line"):
        Commented("x", comment)


class _Str(str):
    pass


def _as_subclasses(document: Any) -> Any:
    """The same data in subclasses of dict, list and str, which the emitter's exact-type fast path must not miss."""
    if isinstance(document, dict):
        return OrderedDict((key, _as_subclasses(value)) for key, value in document.items())
    if isinstance(document, list):
        return _List([_as_subclasses(item) for item in document])
    return _Str(document) if isinstance(document, str) else document


class _List(list[Any]):
    pass


@given(_documents)
def test_subclasses_of_dict_list_and_str_read_back_as_their_plain_data(document: Any) -> None:
    assert yaml.safe_load(to_yaml(_as_subclasses(document))) == document


@given(st.sampled_from(TRICKY))
def test_every_tricky_string_reads_back_as_itself_as_key_and_value(text: str) -> None:
    assert yaml.safe_load(to_yaml({text: [text, {"k": text}]})) == {text: [text, {"k": text}]}


@given(st.sampled_from(["0E0", "1e5", "1E-3", ".5", "+1", "-2", "0o17", "0x1f", "TRUE", "Null", "~", ".Inf", ".NaN"]))
def test_strings_yaml_1_2_reads_as_numbers_booleans_or_null_are_quoted(text: str) -> None:
    assert to_yaml(text) == f'"{text}"\n'


def test_scripts_are_literal_blocks_and_plain_words_stay_plain() -> None:
    text = to_yaml({"run": "set -e\necho hi\n", "name": "api-gateway", "url": "http://api:3000", "on": "yes"})
    assert text == 'run: |\n  set -e\n  echo hi\nname: api-gateway\nurl: http://api:3000\n"on": "yes"\n'


def test_every_generated_yaml_file_reads_back_as_its_documents() -> None:
    from bizinfra.pipeline import build_tree
    from bizinfra.plan import resolve
    from bizinfra.targets import compile_plan

    specs = load_specs(SPECS)
    files = build_files(specs)
    for spec in specs:
        for artifact in compile_plan(resolve(spec.platform, spec.source)):
            if artifact.format == "yaml":
                rendered = files[f"{spec.platform.name}/{artifact.path}"]
                assert list(yaml.safe_load_all(rendered)) == list(artifact.documents), artifact.path
    assert build_tree(specs).files == files
