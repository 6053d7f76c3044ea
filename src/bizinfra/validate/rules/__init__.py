"""The guarantees that span targets, one module per rule, each a function over the generated files of one platform.

`validate` runs every rule, in the order of RULES, as the check `invariant: <name>`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bizinfra.validate.rules.buckets import buckets_agree
from bizinfra.validate.rules.edges import network_edges_match_declared
from bizinfra.validate.rules.images import images_are_pinned
from bizinfra.validate.rules.labels import labels_reach
from bizinfra.validate.rules.literal_secrets import no_literal_secrets
from bizinfra.validate.rules.names import names_agree
from bizinfra.validate.rules.platform_files import COMPOSE_FILE, PlatformFiles, Problem, platforms
from bizinfra.validate.rules.ports import ports_agree
from bizinfra.validate.rules.secrets import secrets_are_references

Rule = Callable[[PlatformFiles], list[Problem]]

RULES: dict[str, Rule] = {
    "ports agree": ports_agree,
    "network edges match the declared ones": network_edges_match_declared,
    "secrets are references": secrets_are_references,
    "no literal secrets": no_literal_secrets,
    "names agree across targets": names_agree,
    "labels reach their objects": labels_reach,
    "images are pinned": images_are_pinned,
    "buckets agree across targets": buckets_agree,
}

__all__ = ["COMPOSE_FILE", "RULES", "PlatformFiles", "Problem", "Rule", "check", "platforms"]


def check(files: Mapping[str, bytes]) -> list[Problem]:
    """Every rule over every platform of a generated tree."""
    return sorted({problem for platform in platforms(files) for rule in RULES.values() for problem in rule(platform)})
