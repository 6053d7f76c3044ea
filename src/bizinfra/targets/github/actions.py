"""Every action the workflows use, in one table: its release, that release's commit, and its major tag.

Each row is the action's newest release at its current major, and all run on node24 or are composite: GitHub
removed the node20 runtime on 2026-09-23, and actionlint flags the seed's @v4 actions. Each commit is the one the
release tag points to (annotated tags dereferenced), read from the action's own repository (`git rev-parse
<tag>^{commit}` in a snapshot of it) or, where noted, from public repositories that checked it against the tag;
the source is in the comment. Update a row by release, never by copying a SHA from an unchecked place: Dependabot
and Renovate read the `# <release>` comment written after each commit pin and propose the next row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bizinfra.yaml_emitter import Commented


@dataclass(frozen=True)
class Action:
    repository: str
    release: str
    commit: str
    major: str  # what `pin_actions: tag` refers to; the commit again where tags proved unsafe


ACTIONS: dict[str, Action] = {
    # v7.0.1: the tag in actions/checkout (snapshot of 2026-07-17); also github.com/ViewComponent/view_component/pull/2687
    "checkout": Action("actions/checkout", "v7.0.1", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7"),
    # v7.0.0: the tag in actions/setup-node (snapshot of 2026-07-14); also github.com/Switcheo/carbon-js-sdk/pull/641
    "setup-node": Action("actions/setup-node", "v7.0.0", "820762786026740c76f36085b0efc47a31fe5020", "v7"),
    # v7.0.0: the tag in actions/setup-python (snapshot of 2026-07-19). v7 drops the pip-install input, unused here.
    "setup-python": Action("actions/setup-python", "v7.0.0", "5fda3b95a4ea91299a34e894583c3862153e4b97", "v7"),
    # v7.0.1: github.com/equinor/iterative_ensemble_smoother/pull/343, containers/olot/pull/192 (the repository's
    # snapshot ends at v7.0.0)
    "upload-artifact": Action("actions/upload-artifact", "v7.0.1", "043fb46d1a93c77aae656e7c1c64a875d1fc6a0a", "v7"),
    # v8.0.1: the tag in actions/download-artifact (snapshot of 2026-03-12); v8 is its node24 major
    "download-artifact": Action("actions/download-artifact", "v8.0.1", "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c",
                                "v8"),
    # v4.3.0: the tag in docker/setup-buildx-action (snapshot of 2026-08-17); also github.com/roostorg/coop/pull/1163
    "setup-buildx": Action("docker/setup-buildx-action", "v4.3.0", "37fe631027851001ddb9b187196cc803df7f5f0e", "v4"),
    # v4.6.0: github.com/roostorg/coop/pull/1165 (git/ref/tags, annotated tags dereferenced; the repository's
    # snapshot ends at v4.1.0)
    "login": Action("docker/login-action", "v4.6.0", "dbcb813823bdd20940b903addbd779551569679f", "v4"),
    # v6.2.0: the tag in docker/metadata-action (snapshot of 2026-07-02); also github.com/roostorg/coop/pull/1164
    "metadata": Action("docker/metadata-action", "v6.2.0", "dc802804100637a589fabce1cb79ff13a1411302", "v6"),
    # v7.3.0: the tag in docker/build-push-action (snapshot of 2026-07-01); also github.com/roostorg/coop/pull/1166
    "build-push": Action("docker/build-push-action", "v7.3.0", "53b7df96c91f9c12dcc8a07bcb9ccacbed38856a", "v7"),
    # v6.2.3: the tag in aws-actions/configure-aws-credentials (snapshot of 2026-08-18)
    "aws-credentials": Action("aws-actions/configure-aws-credentials", "v6.2.3",
                              "e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6"),
    # v4.0.1: the tag in hashicorp/setup-terraform (snapshot of 2026-07-21); node24
    "setup-terraform": Action("hashicorp/setup-terraform", "v4.0.1", "dfe3c3f87815947d99a8997f908cb6525fc44e9e", "v4"),
    # v0.36.0 (2026-04-22), a descendant of v0.35.0, the release made after the March 2026 compromise in which every
    # older tag was moved to a credential stealer (github.com/aquasecurity/trivy-action/issues/541): pinned by
    # commit even with `tag`. The tag in aquasecurity/trivy-action (snapshot of 2026-06-30).
    "trivy": Action("aquasecurity/trivy-action", "v0.36.0", "ed142fd0673e97e23eac54620cfb913e5ce36c25",
                    "ed142fd0673e97e23eac54620cfb913e5ce36c25"),
}


def uses(name: str, pin: Literal["sha", "tag"]) -> str:
    """The `uses:` value of an action: `owner/repo@<commit>` with the release as its YAML comment, or
    `owner/repo@<major>`."""
    action = ACTIONS[name]
    ref = action.commit if pin == "sha" else action.major
    value = f"{action.repository}@{ref}"
    return Commented(value, action.release) if ref == action.commit else value
