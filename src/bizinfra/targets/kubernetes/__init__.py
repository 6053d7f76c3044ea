"""Kubernetes target: the manifests of each Kubernetes environment, loadable with `kubectl apply -k`."""

from bizinfra.targets.kubernetes.manifests import compile_kubernetes

__all__ = ["compile_kubernetes"]
