"""What every manifest builder shares: the document type, metadata and the target's own constants."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bizinfra.plan import APP_USER_ID, EnvironmentPlan

Manifest = dict[str, Any]

# The tag the manifests carry until a release sets the real one (`kustomize edit set image`). It names no
# image, so a folder applied without a release fails to pull instead of running something unintended.
PLACEHOLDER_TAG = "unreleased"
SECRET_STORE = "aws-secrets-manager"  # the ClusterSecretStore's name, as in the seed


def metadata(env: EnvironmentPlan, name: str, labels: Mapping[str, str] | None = None,
             annotations: Mapping[str, str] | None = None) -> Manifest:
    meta: Manifest = {"name": name, "namespace": env.namespace, "labels": dict(labels or env.labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def hardened_container() -> Manifest:
    """What every container runs with: the non-root user the images create, nothing writable but its volumes."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": APP_USER_ID,
        "runAsGroup": APP_USER_ID,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def hardened_pod() -> Manifest:
    """The pod-level half: volumes owned by the same non-root user, the runtime's default seccomp profile."""
    return {
        "runAsNonRoot": True,
        "runAsUser": APP_USER_ID,
        "runAsGroup": APP_USER_ID,
        "fsGroup": APP_USER_ID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
