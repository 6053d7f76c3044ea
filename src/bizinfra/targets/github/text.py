"""Workflows as YAML text whose scripts read as scripts.

The shared renderer writes a multi-line string as one quoted line full of `\\n`; a reviewer of a
workflow must be able to read its `run:` blocks, so this target writes them as literal blocks (`|`).
Everything else matches the shared renderer: key order as built, no flow style, no line folding.
"""

from __future__ import annotations

from typing import Any

import yaml

from bizinfra.artifacts import Artifact, text_file


class _WorkflowDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # every mapping written out in full: no `&id001` anchors for a reader to chase


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_WorkflowDumper.add_representer(str, _string)


def workflow_file(path: str, document: dict[str, Any]) -> Artifact:
    text: str = yaml.dump(document, Dumper=_WorkflowDumper, sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=10_000)
    return text_file(path, text)
