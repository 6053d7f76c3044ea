"""Rule `labels reach their objects`: every object carries its environment's labels, and every selector selects."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from bizinfra.validate.rules.documents import PART_OF, WORKLOADS, labels, name_of, pod, pod_spec
from bizinfra.validate.rules.platform_files import PlatformFiles, Problem

MANAGED_BY = "bizinfra"


def labels_reach(p: PlatformFiles) -> list[Problem]:
    """Every Kubernetes object of an environment, and every pod template (Deployments' and Jobs'), carries the
    environment's labels (`app.kubernetes.io/part-of` = the platform, `managed-by` = bizinfra,
    `bizinfra.dev/environment` = the folder); every selector (Deployment, Service, PodDisruptionBudget,
    NetworkPolicy, PodMonitor, topology spread) selects pods that exist, and a Deployment's selector matches its own
    pod template."""
    problems: list[Problem] = []
    for env in p.environments("kubernetes"):
        promised = {PART_OF: p.name, "app.kubernetes.io/managed-by": MANAGED_BY, "bizinfra.dev/environment": env}
        pods = [labels(pod(d)) for _, d in p.workloads(env)]
        for file, document in p.objects(env):
            problems += [Problem(p.where(file), name_of(document), message)
                         for message in _missing_labels(document, promised) + _empty_selectors(document, pods)]
    return problems


def _missing_labels(document: Mapping[str, Any], promised: Mapping[str, str]) -> list[str]:
    carriers = [("labels", labels(document))]
    if document.get("kind") in WORKLOADS:
        carriers.append(("pod template labels", labels(pod(document))))
    return [f"{where} lack {key}={value}" for where, found in carriers for key, value in sorted(promised.items())
            if found.get(key) != value]


def _empty_selectors(document: Mapping[str, Any], pods: list[dict[str, Any]]) -> list[str]:
    """The object's selectors that select no pod; a Deployment's own selector must select its own template."""
    problems = []
    for what, selector in _selectors(document):
        own = document.get("kind") == "Deployment" and what == "selector"
        candidates = [labels(pod(document))] if own else pods
        if not any(_matches(selector, found) for found in candidates):
            problems.append(f"{what} {_show(selector)} selects no pod")
    return problems


def _selectors(document: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    spec, kind = document.get("spec") or {}, document.get("kind")
    if kind == "Service" and spec.get("selector"):
        yield "selector", spec["selector"]
    if kind in ("Deployment", "PodDisruptionBudget", "PodMonitor") and spec.get("selector"):
        yield "selector", (spec["selector"].get("matchLabels") or {})
    if kind == "NetworkPolicy" and (spec.get("podSelector") or {}).get("matchLabels"):
        yield "podSelector", spec["podSelector"]["matchLabels"]
    if kind == "Deployment":
        for constraint in pod_spec(document).get("topologySpreadConstraints") or []:
            yield "topology spread selector", ((constraint.get("labelSelector") or {}).get("matchLabels") or {})


def _matches(selector: Mapping[str, Any], found: Mapping[str, Any]) -> bool:
    return all(found.get(key) == value for key, value in selector.items())


def _show(selector: Mapping[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
