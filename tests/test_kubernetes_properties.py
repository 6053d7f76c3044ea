"""Properties of the Kubernetes manifests of random whole platforms (tests.strategies.platforms()).

Expected values come from the spec (the user's words: ports, calls, uses, public, replicas), never from the
plan the target reads; the manifests are read back from the rendered bytes."""

from __future__ import annotations

import ipaddress
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from bizinfra.plan import resolve
from bizinfra.spec.models import Platform
from bizinfra.spec.quantities import memory_bytes, millicores
from bizinfra.spec.storage import egress_target
from bizinfra.validate.kubernetes import KUBERNETES_VERSIONS, document_problems, validate_folders
from tests.strategies import platforms
from tests.support import require_tool
from tests.support.kubernetes import (
    DNS,
    INTERNET,
    OUTSIDE_THE_VPC,
    POD_IDENTITY_AGENT,
    PRIVATE_SUBNETS,
    PUBLIC_SUBNETS,
    Document,
    Edge,
    allowed_edges,
    environments,
    kustomization,
    matches,
    named,
    of_kind,
    rendered,
    write,
)

KUBERNETES_ENVS = ("production", "staging")  # the strategies' environments that run on Kubernetes


def deployments_of(platform: Platform, env: str, service: str) -> list[str]:
    """Its workloads' names: a web service's slots in blue-green; a worker's Deployment or a cron job's CronJob."""
    blue_green = platform.environments[env].rollout == "blue-green" and platform.services[service].kind == "web"
    return [f"{service}-blue", f"{service}-green"] if blue_green else [service]


def spec_replicas(platform: Platform, env: str, service: str) -> tuple[int, int]:
    override = platform.environments[env].services.get(service)
    scale = (override and override.replicas) or platform.services[service].replicas
    return scale.min, scale.max


@given(platforms())
def test_every_port_agrees_with_the_spec(platform: Platform) -> None:
    for env, documents in environments(rendered(platform)).items():
        for name, spec in platform.services.items():
            if spec.kind != "web":
                assert not [s for s in of_kind(documents, "Service") if s["metadata"]["name"] == name]
                _worker_or_cron_ports_agree(documents, name, spec)
                continue
            service = named(documents, "Service", name)
            assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(spec.port, spec.port)]
            for deployment in deployments_of(platform, env, name):
                pod = named(documents, "Deployment", deployment)["spec"]["template"]
                (container,) = pod["spec"]["containers"]
                assert [p["containerPort"] for p in container["ports"]] == [spec.port]
                probes = [container[k]["httpGet"] for k in ("startupProbe", "livenessProbe", "readinessProbe")]
                paths = (spec.probes.startup, spec.probes.liveness, spec.probes.readiness)
                assert [(p["port"], p["path"]) for p in probes] == [(spec.port, path or spec.health) for path in paths]
                annotations = pod["metadata"]["annotations"]
                assert annotations["prometheus.io/port"] == str(spec.port)
                assert annotations["prometheus.io/path"] == spec.metrics
            policies = [p["spec"] for p in of_kind(documents, "NetworkPolicy")
                        if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == name]
            ingress_ports = {port["port"] for p in policies for rule in p.get("ingress", []) for port in rule["ports"]}
            assert ingress_ports == {spec.port}


def _worker_or_cron_ports_agree(documents: list[dict[str, Any]], name: str, spec: Any) -> None:
    """A worker listens on its metrics port, if any, and is alive by its command or a GET of its metrics path; a
    cron job listens to nothing and has no probes. Only Prometheus comes in, on the port."""
    if spec.kind == "cron":
        (container,) = named(documents, "CronJob", name)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert not {"ports", "startupProbe", "livenessProbe", "readinessProbe"} & set(container)
    else:
        pod = named(documents, "Deployment", name)["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert [p["containerPort"] for p in container.get("ports", [])] == ([spec.port] if spec.port else [])
        assert "readinessProbe" not in container
        check = {"exec": {"command": ["sh", "-c", spec.health_command]}} if spec.health_command else \
            {"httpGet": {"path": spec.metrics, "port": spec.port, "scheme": "HTTP"}}
        for probe in ("startupProbe", "livenessProbe"):
            assert {k: v for k, v in container[probe].items() if k in ("exec", "httpGet")} == check
        assert pod["metadata"].get("annotations", {}).get("prometheus.io/port") == (str(spec.port) if spec.port else None)
    policies = [p["spec"] for p in of_kind(documents, "NetworkPolicy")
                if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == name]
    ingress_ports = {port["port"] for p in policies for rule in p.get("ingress", []) for port in rule["ports"]}
    assert ingress_ports == ({spec.port} if spec.port else set())


@given(platforms())
def test_network_policies_allow_exactly_the_declared_graph(platform: Platform) -> None:
    plan = resolve(platform, "spec.yaml")
    for env, documents in environments(rendered(platform)).items():
        network = plan.environments[[e.name for e in plan.environments].index(env)].network
        assert all(_inside(cidr, platform.network.cidr) for cidr in network.public_subnets + network.private_subnets)
        expected = set()
        for name, spec in platform.services.items():
            for deployment in deployments_of(platform, env, name):
                expected |= {Edge(deployment, "egress", DNS, protocol, 53) for protocol in ("UDP", "TCP")}
                if spec.port is not None:  # what listens is scraped
                    expected.add(Edge(deployment, "ingress", f"namespace:{platform.monitoring.stack.namespace}",
                                      "TCP", spec.port))
                if spec.public:
                    expected.add(Edge(deployment, "ingress", PUBLIC_SUBNETS, "TCP", spec.port))
                for caller, caller_spec in platform.services.items():
                    if name in caller_spec.calls:
                        expected |= {Edge(deployment, "ingress", peer, "TCP", spec.port)
                                     for peer in deployments_of(platform, env, caller)}
                for callee in spec.calls:
                    expected |= {Edge(deployment, "egress", peer, "TCP", platform.services[callee].port)
                                 for peer in deployments_of(platform, env, callee)}
                for store in (store for store in spec.uses if store in platform.datastores):
                    expected.add(Edge(deployment, "egress", PRIVATE_SUBNETS, "TCP", platform.datastore_port(store)))
                targets = [egress_target(target) for target in spec.egress]
                calls_aws = any(isinstance(t, str) for t in targets) or bool(set(spec.uses) & set(platform.storage))
                ports = {t[1] for t in targets if isinstance(t, tuple)} | ({443} if calls_aws else set())
                expected |= {Edge(deployment, "egress", INTERNET, "TCP", port) for port in ports}
                if calls_aws:
                    expected.add(Edge(deployment, "egress", POD_IDENTITY_AGENT, "TCP", 80))
        for store, store_spec in platform.datastores.items():  # each PostgreSQL store's bootstrap Job
            if store_spec.engine == "postgres":
                job = f"{store}-bootstrap"
                expected |= {Edge(job, "egress", DNS, protocol, 53) for protocol in ("UDP", "TCP")}
                expected |= {Edge(job, "egress", PRIVATE_SUBNETS, "TCP", platform.datastore_port(store)),
                             Edge(job, "egress", OUTSIDE_THE_VPC, "TCP", 443),
                             Edge(job, "egress", POD_IDENTITY_AGENT, "TCP", 80)}
        for name, spec in platform.services.items():  # each service's migration Jobs: its database, nothing else
            for store in (s for s in spec.uses if s in platform.datastores and platform.datastores[s].engine == "postgres"):
                for job in (f"{name}-migrate", f"{name}-rollback"):
                    expected |= {Edge(job, "egress", DNS, protocol, 53) for protocol in ("UDP", "TCP")}
                    expected.add(Edge(job, "egress", PRIVATE_SUBNETS, "TCP", platform.datastore_port(store)))
        for store, store_spec in platform.datastores.items():  # each store's exporter: scraped, and reaching it
            exporter = f"{store}-exporter"
            expected |= {Edge(exporter, "egress", DNS, protocol, 53) for protocol in ("UDP", "TCP")}
            expected |= {Edge(exporter, "egress", PRIVATE_SUBNETS, "TCP", platform.datastore_port(store)),
                         Edge(exporter, "ingress", f"namespace:{platform.monitoring.stack.namespace}", "TCP",
                              {"postgres": 9187, "redis": 9121}[store_spec.engine])}
        allowed = allowed_edges(documents, list(network.public_subnets), list(network.private_subnets),
                                platform.network.cidr)
        assert sorted(allowed - expected) == [], "allowed but not declared"
        assert sorted(expected - allowed) == [], "declared but not allowed"
        deny = named(documents, "NetworkPolicy", "default-deny")["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}


def _inside(cidr: str, network: str) -> bool:
    return ipaddress.IPv4Network(cidr).subnet_of(ipaddress.IPv4Network(network))


@given(platforms())
def test_every_deployment_is_probed_bounded_and_hardened(platform: Platform) -> None:
    for documents in environments(rendered(platform)).values():
        cron_pods = [(c, c["spec"]["jobTemplate"]["spec"]["template"]["spec"]) for c in of_kind(documents, "CronJob")]
        for deployment, pod in [(d, d["spec"]["template"]["spec"]) for d in of_kind(documents, "Deployment")] + cron_pods:
            assert pod["automountServiceAccountToken"] is False
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            kind = deployment["metadata"]["labels"].get("app.kubernetes.io/component")
            for container in pod["containers"]:
                probes = {"cron": set(), "worker": {"startupProbe", "livenessProbe"}}.get(
                    kind, {"startupProbe", "livenessProbe", "readinessProbe"})
                assert probes <= container.keys()
                requests, limits = container["resources"]["requests"], container["resources"]["limits"]
                assert millicores(requests["cpu"]) <= millicores(limits["cpu"])
                assert memory_bytes(requests["memory"]) <= memory_bytes(limits["memory"])
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False
                assert context["readOnlyRootFilesystem"] is True
                assert context["runAsNonRoot"] is True and context["runAsUser"] >= 10000
                assert context["capabilities"] == {"drop": ["ALL"]}
                assert context["seccompProfile"] == {"type": "RuntimeDefault"}
                tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
                assert next(v for v in pod["volumes"] if v["name"] == tmp["name"])["emptyDir"] is not None
                name, _, tag = container["image"].rpartition(":")
                assert name and tag and tag != "latest"


@given(platforms())
def test_autoscalers_and_budgets_follow_the_spec_replicas(platform: Platform) -> None:
    for env, documents in environments(rendered(platform)).items():
        for name, spec in platform.services.items():
            low, high = spec_replicas(platform, env, name)
            if spec.kind == "cron":  # a CronJob: one run at a time, neither scaled nor budgeted
                assert not [h for h in of_kind(documents, "HorizontalPodAutoscaler")
                            if h["spec"]["scaleTargetRef"]["name"] == name]
                continue
            for deployment_name in deployments_of(platform, env, name):
                deployment = named(documents, "Deployment", deployment_name)
                autoscalers = [h for h in of_kind(documents, "HorizontalPodAutoscaler")
                               if h["spec"]["scaleTargetRef"]["name"] == deployment_name]
                if high > low:
                    (hpa,) = autoscalers
                    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                    assert low <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] == high
                    assert "replicas" not in deployment["spec"]  # the autoscaler owns it
                else:
                    assert autoscalers == []
                    if len(deployments_of(platform, env, name)) == 1:
                        assert deployment["spec"]["replicas"] == low
                budgets = [b for b in of_kind(documents, "PodDisruptionBudget")
                           if matches(b["spec"]["selector"]["matchLabels"],
                                      deployment["spec"]["template"]["metadata"]["labels"])]
                assert len(budgets) == (1 if low >= 2 else 0)


@given(platforms())
def test_every_selector_matches_its_own_pods_only(platform: Platform) -> None:
    for documents in environments(rendered(platform)).values():
        deployments = of_kind(documents, "Deployment")
        owner = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
                 for d in deployments}
        for deployment in deployments:
            assert matches(deployment["spec"]["selector"]["matchLabels"],
                           deployment["spec"]["template"]["metadata"]["labels"])
            others = [d for d in deployments if d is not deployment]
            assert not any(matches(deployment["spec"]["selector"]["matchLabels"],
                                   d["spec"]["template"]["metadata"]["labels"]) for d in others)
        for service in of_kind(documents, "Service"):
            chosen = {d["metadata"]["name"] for d in deployments
                      if matches(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])}
            assert chosen and {owner[name] for name in chosen} == {service["metadata"]["name"]}
        for budget in of_kind(documents, "PodDisruptionBudget"):
            assert sum(matches(budget["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"])
                       for d in deployments) == 1
        templates = [d["spec"]["template"] for d in deployments + of_kind(documents, "Job")]
        templates += [c["spec"]["jobTemplate"]["spec"]["template"] for c in of_kind(documents, "CronJob")]
        for policy in of_kind(documents, "NetworkPolicy"):
            selector = policy["spec"]["podSelector"].get("matchLabels", {})
            assert any(matches(selector, template["metadata"]["labels"]) for template in templates)


@given(platforms())
def test_everything_referenced_exists_in_the_same_output(platform: Platform) -> None:
    files = rendered(platform)
    for env, documents in environments(files).items():
        def names(kind: str, documents: list[Document] = documents) -> set[str]:
            return {d["metadata"]["name"] for d in of_kind(documents, kind)}

        secrets = {d["spec"]["target"]["name"] for d in of_kind(documents, "ExternalSecret")}
        assert not of_kind(documents, "Secret"), "secrets come from ExternalSecrets, never from a manifest"
        stores = names("ClusterSecretStore")
        for external in of_kind(documents, "ExternalSecret"):
            assert external["spec"]["secretStoreRef"]["name"] in stores
        for deployment in of_kind(documents, "Deployment"):
            pod = deployment["spec"]["template"]["spec"]
            assert pod["serviceAccountName"] in names("ServiceAccount")
            assert all(pull["name"] in secrets for pull in pod.get("imagePullSecrets", []))
            for container in pod["containers"]:
                for source in container.get("envFrom", []):
                    if "configMapRef" in source:
                        assert source["configMapRef"]["name"] in names("ConfigMap")
                    else:
                        assert source["secretRef"]["name"] in secrets
                for variable in container.get("env", []):  # an exporter's credentials
                    if "valueFrom" in variable:
                        assert variable["valueFrom"]["secretKeyRef"]["name"] in secrets
        for hpa in of_kind(documents, "HorizontalPodAutoscaler"):
            assert hpa["spec"]["scaleTargetRef"]["name"] in names("Deployment")
        for binding in of_kind(documents, "TargetGroupBinding"):
            backend = binding["spec"]["serviceRef"]
            service = named(documents, "Service", backend["name"])
            assert backend["port"] in [p["port"] for p in service["spec"]["ports"]]
        # every secret the spec declares reaches its service, by name only
        for name, spec in platform.services.items():
            variables = {item["secretKey"] for d in of_kind(documents, "ExternalSecret")
                         if d["metadata"]["labels"].get("app.kubernetes.io/name") == name
                         for item in d["spec"]["data"]}
            assert set(spec.secrets) <= variables
        images = {entry["name"] for entry in kustomization(files, env)["images"]}
        released = [d for d in of_kind(documents, "Deployment")  # the exporters run pinned upstream releases
                    if d["metadata"]["labels"].get("app.kubernetes.io/component") != "exporter"]
        templates = [d["spec"]["template"] for d in released]
        templates += [c["spec"]["jobTemplate"]["spec"]["template"] for c in of_kind(documents, "CronJob")]
        assert {c["image"].rpartition(":")[0] for t in templates for c in t["spec"]["containers"]} == images


@pytest.mark.slow
@given(platforms())
def test_every_object_is_labelled_as_part_of_the_platform(platform: Platform) -> None:
    for env, documents in environments(rendered(platform)).items():
        for document in documents:
            labels = document["metadata"]["labels"]
            assert labels["app.kubernetes.io/part-of"] == platform.name
            assert labels["app.kubernetes.io/managed-by"] == "bizinfra"
            assert labels["bizinfra.dev/environment"] == env
            if labels.get("app.kubernetes.io/name") in platform.services:
                spec = platform.services[labels["app.kubernetes.io/name"]]
                kind = spec.kind if spec.kind != "web" else "public" if spec.public is not None else "internal"
                assert labels["app.kubernetes.io/component"] == kind  # web: public or internal; else its kind
        for name, spec in platform.services.items():
            owned = [d for d in documents if d["metadata"]["labels"].get("app.kubernetes.io/name") == name]
            # a web service behind its Service; a worker runs with none; a cron job is a CronJob
            runs = {"web": {"Service", "Deployment"}, "worker": {"Deployment"}, "cron": {"CronJob"}}[spec.kind]
            assert {d["kind"] for d in owned} >= {"ServiceAccount", "ConfigMap", "NetworkPolicy", *runs}


DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")  # RFC 1035, what a Service's name must be
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@given(platforms())
def test_every_name_is_one_the_api_server_accepts(platform: Platform) -> None:
    """The schemas do not check names; the API server does."""
    for documents in environments(rendered(platform)).values():
        keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in documents]
        assert len(set(keys)) == len(keys), "two objects of one kind share a name"
        for kind, _, name in keys:
            assert DNS_SUBDOMAIN.match(name) and len(name) <= 253, (kind, name)
            if kind in ("Service", "Namespace"):
                assert DNS_LABEL.match(name), (kind, name)
            if kind == "Deployment":
                assert len(name) <= 47, name  # its pods' names add a hash of up to 16 characters
        for document in documents:
            for value in document["metadata"]["labels"].values():
                assert len(value) <= 63


@pytest.mark.slow
@given(platforms())
def test_one_load_balancer_answers_for_exactly_the_public_hosts(platform: Platform) -> None:
    public = {name for name, spec in platform.services.items() if spec.public}
    for documents in environments(rendered(platform)).values():
        bindings = of_kind(documents, "TargetGroupBinding")
        assert {binding["spec"]["serviceRef"]["name"] for binding in bindings} == public
        assert of_kind(documents, "Ingress") == []
        groups = [binding["spec"]["targetGroupName"] for binding in bindings]
        assert len(set(groups)) == len(groups)
        for group in groups:  # ELBv2 target group names: 32 characters, alphanumerics and inner hyphens
            assert len(group) <= 32 and re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?", group)
        assert all(binding["spec"]["targetType"] == "ip" for binding in bindings)
        for service in public:  # the load balancer's health check is its target group's (Terraform)
            assert "annotations" not in named(documents, "Service", service)["metadata"]


@pytest.mark.slow
@given(platforms())
def test_every_object_passes_the_kubernetes_and_crd_schemas(platform: Platform) -> None:
    for documents in environments(rendered(platform)).values():
        assert document_problems(documents) == []


@settings(max_examples=3)
@given(platforms(max_services=4))
def test_kubernetes_validate_accepts_random_platforms(platform: Platform) -> None:
    """The command itself (not only its schemas), one run per tree."""
    tool = require_tool("kubernetes-validate")
    with tempfile.TemporaryDirectory() as folder:
        folders = write(rendered(platform), Path(folder))
        assert [f.name for f in folders] == list(KUBERNETES_ENVS)
        assert validate_folders(tool, folders, KUBERNETES_VERSIONS) == []
