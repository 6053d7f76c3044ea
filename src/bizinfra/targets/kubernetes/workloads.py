"""A service's workload: ServiceAccount, Service, and per Deployment (one, or one per blue-green slot) its
Deployment, HorizontalPodAutoscaler and PodDisruptionBudget. A worker has no Service (it takes no requests); a cron
job is a CronJob."""

from __future__ import annotations

from bizinfra.plan import ROLLING_SURGE_PERCENT, SLOT_LABEL, EnvironmentPlan, ServicePlan
from bizinfra.targets.kubernetes.common import PLACEHOLDER_TAG, Manifest, hardened_container, hardened_pod, metadata
from bizinfra.targets.kubernetes.connections import ca_mounts, ca_volumes

# The seed's autoscaling targets: scale out above 70% of the CPU request, 80% of the memory request.
CPU_TARGET_PERCENT = 70
MEMORY_TARGET_PERCENT = 80
# Seconds a terminating pod keeps serving while the load balancer and kube-proxy stop sending to it.
DRAIN_SECONDS = 10
# A failed cron run is tried again this many times (new pods) before the Job fails and its alert fires.
JOB_RETRIES = 2


def service_documents(env: EnvironmentPlan, service: ServicePlan) -> list[Manifest]:
    documents = [service_account(env, service)]
    if service.cron:
        return [*documents, cron_job(env, service)]
    if service.takes_requests:
        documents.append(kubernetes_service(env, service))
    for name in service.deployments:
        documents.append(deployment(env, service, name))
    if service.replicas.max > service.replicas.min:
        documents += [autoscaler(env, service, name) for name in service.deployments]
    if service.replicas.min >= 2:
        documents += [disruption_budget(env, service, name) for name in service.deployments]
    return documents


def pod_selector(service: ServicePlan, deployment_name: str) -> dict[str, str]:
    """What one Deployment's pods carry and are selected by: the service's selector, plus its slot in blue-green."""
    slot = next((slot for slot, name in service.slots.items() if name == deployment_name), None)
    return {**service.selector, SLOT_LABEL: slot} if slot else dict(service.selector)


def service_account(env: EnvironmentPlan, service: ServicePlan) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(env, service.service_account, service.labels),
        # The services never call the Kubernetes API; AWS access, if ever needed, comes from EKS Pod Identity.
        "automountServiceAccountToken": False,
    }


def kubernetes_service(env: EnvironmentPlan, service: ServicePlan) -> Manifest:
    """Selects every slot's pods: the deploy job, not this manifest, owns which slot is live (docs/kubernetes.md)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(env, service.name, service.labels),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(service.selector),
            "ports": [{"name": "http", "port": service.port, "targetPort": service.port, "protocol": "TCP"}],
        },
    }


def deployment(env: EnvironmentPlan, service: ServicePlan, name: str) -> Manifest:
    selector = pod_selector(service, name)
    spec: Manifest = {
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector},
        # A new pod must be ready before an old one goes: no capacity is lost during a rollout.
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxSurge": f"{ROLLING_SURGE_PERCENT}%", "maxUnavailable": 0}},
        "template": {
            "metadata": {"labels": {**service.labels, **selector},
                         **({"annotations": dict(service.scrape_annotations)} if service.scraped else {})},
            "spec": pod_spec(env, service, name, selector),
        },
    }
    # Left out when an autoscaler or the blue-green deploy job sets it, so re-applying never resizes.
    if service.replicas.max == service.replicas.min and len(service.deployments) == 1:
        spec = {"replicas": service.replicas.min, **spec}
    # checkov's kubernetes runner reads skips from the object's annotations: scoped to this worker alone.
    skip = {} if service.takes_requests else {
        "checkov.io/skip1": "CKV_K8S_9=a worker takes no traffic, so it has no readiness probe; liveness checks it"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata(env, name, service.labels, skip),
            "spec": spec}


def pod_spec(env: EnvironmentPlan, service: ServicePlan, name: str, selector: dict[str, str]) -> Manifest:
    spec: Manifest = {
        "serviceAccountName": service.service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,  # the services find each other through the ConfigMap's *_URL variables
        "terminationGracePeriodSeconds": 30 + DRAIN_SECONDS,
        "securityContext": hardened_pod(),
        # A private registry's token (ECR: the node's role pulls, nothing to name).
        **({"imagePullSecrets": [{"name": env.pull_secret.name}]} if env.pull_secret else {}),
        "containers": [container(env, service, name)],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "128Mi"}}, *ca_volumes(env, service)],
    }
    if env.production or env.highly_available:
        spec["topologySpreadConstraints"] = topology_spread(env, selector)
    return spec


def topology_spread(env: EnvironmentPlan, selector: dict[str, str]) -> list[Manifest]:
    """Across zones (strictly when highly available), then across nodes; only the newest ReplicaSet counts."""
    zone_rule = "DoNotSchedule" if env.highly_available else "ScheduleAnyway"
    return [
        {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": rule,
         "labelSelector": {"matchLabels": dict(selector)}, "matchLabelKeys": ["pod-template-hash"]}
        for key, rule in (("topology.kubernetes.io/zone", zone_rule), ("kubernetes.io/hostname", "ScheduleAnyway"))
    ]


def environment_sources(env: EnvironmentPlan, service: ServicePlan) -> list[Manifest]:
    """Everything the service's processes read from their environment: the shared and its own ConfigMap, and its
    Secret (credentials, DATABASE_URL, REDIS_URL). Every container running the service's image (its Deployment's, a
    migration Job's) takes it from here, with `ca_mounts` for the certificates its URLs name."""
    sources: list[Manifest] = [{"configMapRef": {"name": env.config_map}},
                               {"configMapRef": {"name": service.config_map}}]
    if service.secrets:
        sources.append({"secretRef": {"name": service.secret_name}})
    return sources


def container(env: EnvironmentPlan, service: ServicePlan, name: str) -> Manifest:
    # The spec's command replaces the image's CMD, not its ENTRYPOINT: tini stays PID 1 and passes SIGTERM on.
    command = {"args": list(service.command)} if service.command else {}
    ports = [{"name": "http", "containerPort": service.port, "protocol": "TCP"}] if service.port else []
    # A web service keeps serving while the load balancer and kube-proxy stop sending to it.
    drain = {"preStop": {"sleep": {"seconds": DRAIN_SECONDS}}} if service.takes_requests else None
    return {
        "name": service.container,
        # A name kustomize replaces (kustomization.yaml `images:`), with a tag that is never `latest`.
        "image": f"{name}:{PLACEHOLDER_TAG}",
        "imagePullPolicy": "Always",
        **command,
        **({"ports": ports} if ports else {}),
        "envFrom": environment_sources(env, service),
        "resources": {
            "requests": {"cpu": service.cpu_request, "memory": service.memory_request},
            "limits": {"cpu": service.cpu_limit, "memory": service.memory_limit},
        },
        **probes(service),
        **({"lifecycle": drain} if drain else {}),
        "securityContext": hardened_container(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *ca_mounts(env, service)],
    }


def probes(service: ServicePlan) -> Manifest:
    """Up to 60 s to start; then out of the load balancer after 15 s not ready (its readiness path may check its
    dependencies), restarted after 30 s not alive (its liveness path must not). A worker takes no traffic, so it has
    no readiness, and is alive by its command or its metrics port; a cron job has none."""
    if service.cron:
        return {}
    paths = service.probes
    checks = {"startupProbe": probe(service, paths.startup, period=2, failures=30),
              "livenessProbe": probe(service, paths.liveness, period=10, failures=3)}
    if service.takes_requests:
        checks["readinessProbe"] = probe(service, paths.readiness, period=5, failures=3)
    return checks


def probe(service: ServicePlan, path: str, period: int, failures: int) -> Manifest:
    check: Manifest
    if service.health_command:
        check = {"exec": {"command": ["sh", "-c", service.health_command]}}
    else:
        check = {"httpGet": {"path": path if service.takes_requests else service.liveness_path,
                             "port": service.port, "scheme": "HTTP"}}
    return {**check, "periodSeconds": period, "timeoutSeconds": 2, "failureThreshold": failures}


def autoscaler(env: EnvironmentPlan, service: ServicePlan, name: str) -> Manifest:
    """Per Deployment: an idle blue-green slot scaled to 0 keeps its autoscaler inactive until the deploy job
    scales it up again."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(env, name, service.labels),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": service.replicas.min,
            "maxReplicas": service.replicas.max,
            "metrics": [utilization("cpu", CPU_TARGET_PERCENT), utilization("memory", MEMORY_TARGET_PERCENT)],
        },
    }


def utilization(resource: str, percent: int) -> Manifest:
    return {"type": "Resource",
            "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": percent}}}


def disruption_budget(env: EnvironmentPlan, service: ServicePlan, name: str) -> Manifest:
    """One pod at a time may be evicted; `maxUnavailable` (not minAvailable) also holds for a slot scaled to 0."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(env, name, service.labels),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": pod_selector(service, name)},
            # A crash-looping pod must not block a node drain (stable in Kubernetes 1.31).
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def cron_job(env: EnvironmentPlan, service: ServicePlan) -> Manifest:
    """Its schedule in UTC whatever the cluster's zone; each run a hardened pod like the services', never retried
    in place (a failed run restarts as a new pod, up to backoffLimit) and stopped at its timeout."""
    assert service.cron is not None
    cron = service.cron
    pod = pod_spec(env, service, service.name, dict(service.selector))
    pod["restartPolicy"] = "Never"
    pod.pop("topologySpreadConstraints", None)  # one pod at a time: nothing to spread
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(env, service.name, service.labels),
        "spec": {
            "schedule": cron.schedule,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": cron.concurrency,
            "startingDeadlineSeconds": cron.start_within_seconds,
            "successfulJobsHistoryLimit": cron.keep_succeeded,
            "failedJobsHistoryLimit": cron.keep_failed,
            "jobTemplate": {
                "metadata": {"labels": dict(service.labels)},
                "spec": {
                    "activeDeadlineSeconds": cron.timeout_seconds,
                    "backoffLimit": JOB_RETRIES,
                    "template": {"metadata": {"labels": dict(service.labels)}, "spec": pod},
                },
            },
        },
    }
