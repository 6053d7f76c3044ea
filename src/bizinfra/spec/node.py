"""The Node.js image a service builds from: a spec names a version, the Dockerfile pins a release.

A major alone (`"24"`) is pinned to that line's newest release bizinfra knows (data/reference/node/, with its
source), so an image rebuilt next month is the same Node; a full `x.y.z` is taken as written. The image is the
official one's Alpine variant of that release, `node:<release>-alpine`.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files

_RELEASE = re.compile(r"^\d+\.\d+\.\d+$")


@cache
def known_releases() -> dict[str, str]:
    """Each LTS major line's newest release (major -> x.y.z)."""
    text = files("bizinfra").joinpath("data/reference/node/releases.json").read_text()
    releases: dict[str, str] = json.loads(text)
    return releases


def node_release(version: str) -> str | None:
    """The release a spec's `node_version` pins; None when it names neither a release nor a known major line."""
    if _RELEASE.fullmatch(version):
        return version
    return known_releases().get(version)


def node_version_problem(version: str) -> str | None:
    if node_release(version) is not None:
        return None
    majors = ", ".join(known_releases())
    return (f"'{version}' pins no Node.js release: write a major line bizinfra knows ({majors}) or a full "
            "release such as 24.21.0")


def pinned_node(version: str) -> str:
    """The release of a version the loader accepted."""
    release = node_release(version)
    if release is None:  # the loader refused it
        raise ValueError(node_version_problem(version))
    return release
