"""Every action the workflows use, in one table: its release, that release's commit, and its major tag.

All run on node24 or are composite: GitHub removed the node20 runtime on 2026-09-23, and actionlint
flags the seed's @v4 actions. Each commit is the one the release tag pointed to, as recorded by
public repositories that checked it against the tag (`git ls-remote` or the GitHub API); the source
is in the comment. Update a row by release, never by copying a SHA from an unchecked place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Action:
    repository: str
    release: str
    commit: str
    major: str  # what `pin_actions: tag` refers to; the commit again where tags proved unsafe


ACTIONS: dict[str, Action] = {
    # v7.0.1: github.com/ViewComponent/view_component/pull/2687 (git ls-remote refs/tags/v7.0.1)
    "checkout": Action("actions/checkout", "v7.0.1", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7"),
    # v7.0.0: github.com/Switcheo/carbon-js-sdk/pull/641 (v7 tag resolved by the GitHub API)
    "setup-node": Action("actions/setup-node", "v7.0.0", "820762786026740c76f36085b0efc47a31fe5020", "v7"),
    # v6.2.0: github.com/equinor/iterative_ensemble_smoother/pull/343, HomericIntelligence/Mnemosyne/pull/2402
    "setup-python": Action("actions/setup-python", "v6.2.0", "a309ff8b426b58ec0e2a45f0f869d46889d02405", "v6"),
    # v7.0.1: github.com/equinor/iterative_ensemble_smoother/pull/343, containers/olot/pull/192
    "upload-artifact": Action("actions/upload-artifact", "v7.0.1", "043fb46d1a93c77aae656e7c1c64a875d1fc6a0a", "v7"),
    # v4.3.0: github.com/roostorg/coop/pull/1163 (git/ref/tags, annotated tags dereferenced)
    "setup-buildx": Action("docker/setup-buildx-action", "v4.3.0", "37fe631027851001ddb9b187196cc803df7f5f0e", "v4"),
    # v4.6.0: github.com/roostorg/coop/pull/1165 (same check)
    "login": Action("docker/login-action", "v4.6.0", "dbcb813823bdd20940b903addbd779551569679f", "v4"),
    # v6.2.0: github.com/roostorg/coop/pull/1164 (same check)
    "metadata": Action("docker/metadata-action", "v6.2.0", "dc802804100637a589fabce1cb79ff13a1411302", "v6"),
    # v7.3.0: github.com/roostorg/coop/pull/1166 (same check)
    "build-push": Action("docker/build-push-action", "v7.3.0", "53b7df96c91f9c12dcc8a07bcb9ccacbed38856a", "v7"),
    # v6.1.0: github.com/Checkmarx/kics/pull/8041 (reviewer linked the release commit)
    "aws-credentials": Action("aws-actions/configure-aws-credentials", "v6.1.0",
                              "ec61189d14ec14c8efccab744f656cffd0e33f37", "v6"),
    # v0.35.0, the release made after the March 2026 compromise, in which every older tag was moved to a
    # credential stealer (github.com/aquasecurity/trivy-action/issues/541); pinned by commit even with `tag`.
    "trivy": Action("aquasecurity/trivy-action", "v0.35.0", "57a97c7e7821a5776cebc9bb87c984fa69cba8f1",
                    "57a97c7e7821a5776cebc9bb87c984fa69cba8f1"),
}


def uses(name: str, pin: Literal["sha", "tag"]) -> str:
    """The `uses:` value of an action: `owner/repo@<commit>` or `owner/repo@<major>`."""
    action = ACTIONS[name]
    return f"{action.repository}@{action.commit if pin == 'sha' else action.major}"
