"""The deploy jobs of ci-cd.yml, run step by step against stand-ins of kubectl, kustomize and aws that keep the
cluster's state (tests/support/stand_ins): a first deploy into an empty namespace, a second deploy, pruning, a
failure at every kubectl call, and a blue-green release failed or cancelled at every kubectl call, after which every
Service must select ready pods.

The runner and the cluster's helpers are tests/support/deploy_runner.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bizinfra.targets.github.rollout import RESTORE_BUDGET_SECONDS, RESTORE_STEP
from tests.support import bundled_tree
from tests.support.deploy_runner import (
    Checkpoint,
    calls,
    cluster,
    deploy_job,
    empty_cluster,
    images,
    ready_endpoints,
    run_job,
    workspace_with,
)

pytestmark = pytest.mark.slow  # every job runs a few dozen stand-in processes


def generated_objects(env: str, files: dict[str, bytes] | None = None) -> set[str]:
    """Every object of the environment's folder a deploy applies: all but the migration workflow's rollback Jobs."""
    files = files or bundled_tree()
    folder = f"business-app/kubernetes/{env}/"
    keys = set()
    for path, content in files.items():
        if path.startswith(folder) and path.endswith(".yaml") and not path.endswith("kustomization.yaml"):
            for doc in yaml.safe_load_all(content):
                if doc and doc["metadata"].get("labels", {}).get("bizinfra.dev/migration") != "rollback":
                    keys.add(f"{doc['kind']}/{doc['metadata'].get('namespace', '')}/{doc['metadata']['name']}")
    return keys


def pinned_images(env: str, files: dict[str, bytes] | None = None) -> dict[str, str]:
    """The Deployments whose image the generated tree pins (the data stores' exporters run third-party images), by
    key: a release sets the services' images only, so these keep theirs."""
    files = files or bundled_tree()
    folder = f"business-app/kubernetes/{env}/"
    pinned = {}
    for path, content in files.items():
        if path.startswith(folder) and path.endswith(".yaml") and not path.endswith("kustomization.yaml"):
            for doc in yaml.safe_load_all(content):
                if doc and doc["kind"] == "Deployment":
                    image = doc["spec"]["template"]["spec"]["containers"][0]["image"]
                    if not image.endswith(":unreleased"):  # the services' placeholder, which a release sets
                        key = f"Deployment/{doc['metadata'].get('namespace', '')}/{doc['metadata']['name']}"
                        pinned[key] = image
    return pinned


@pytest.mark.parametrize("env", ["staging", "production"])
def test_a_first_deploy_into_an_empty_namespace_brings_up_the_whole_folder(tmp_path: Path, env: str) -> None:
    state = empty_cluster(tmp_path / "state")
    run = run_job(deploy_job(env), workspace_with(tmp_path / "repo", bundled_tree()), state, "a" * 40)
    assert run.failed_step is None, run
    objects = cluster(state)["objects"]
    assert generated_objects(env) <= set(objects)
    pinned = pinned_images(env)
    assert {"Deployment/business-app/postgres-exporter", "Deployment/business-app/redis-exporter"} <= set(pinned)
    running = images(state)
    assert {k: running[k] for k in pinned} == pinned  # the exporters keep their pinned third-party images
    assert {v for k, v in running.items() if k not in pinned} == {
        f"ghcr.io/acme/business/{s}:sha-{'a' * 40}" for s in (
            "api-gateway", "auth-service", "business-service", "inventory-service", "invoice-service")}
    # the Namespace, the secrets and the bootstrap came first, were waited for, then the workloads
    log = calls(state)
    first_apply = next(i for i, c in enumerate(log) if c.startswith("kubectl apply"))
    release_apply = next(i for i, c in enumerate(log) if "--applyset" in c)
    waited = [i for i, c in enumerate(log) if c.startswith("kubectl wait") and "crd/" not in c]
    assert first_apply < min(waited) and max(waited) < release_apply
    first, *_ = cluster(state)["applies"]
    assert first[0] == "Namespace//business-app"
    assert not [k for k in first if k.startswith(("Deployment/", "Service/"))]
    assert "Job/business-app/postgres-bootstrap" in first
    if env == "production":  # blue-green: traffic ends on the slot the deploy rolled out and smoke-tested
        service = objects["Service/business-app/api-gateway"]
        assert service["spec"]["selector"]["bizinfra.dev/slot"] == "green"
        assert objects["Deployment/business-app/api-gateway-blue"]["spec"]["replicas"] == 0


def drop_document(files: dict[str, bytes], path: str, kind: str, name: str) -> dict[str, bytes]:
    documents = [d for d in yaml.safe_load_all(files[path]) if d]
    kept = [d for d in documents if not (d["kind"] == kind and d["metadata"]["name"] == name)]
    assert len(kept) == len(documents) - 1
    return {**files, path: yaml.safe_dump_all(kept, sort_keys=False).encode()}


def test_a_second_deploy_changes_the_images_and_prunes_only_what_bizinfra_applied(tmp_path: Path) -> None:
    state = empty_cluster(tmp_path / "state")
    assert run_job(deploy_job("staging"), workspace_with(tmp_path / "one", bundled_tree()), state,
                   "a" * 40).failed_step is None
    before = cluster(state)["objects"]
    # what other tools made: one without bizinfra's labels, one with them (External Secrets copies labels)
    foreign = {"ConfigMap/business-app/someone-elses": {"kind": "ConfigMap", "metadata": {
        "name": "someone-elses", "namespace": "business-app"}},
        "Secret/business-app/auth-service-secrets": {"kind": "Secret", "metadata": {
            "name": "auth-service-secrets", "namespace": "business-app",
            "labels": {"app.kubernetes.io/managed-by": "bizinfra", "app.kubernetes.io/part-of": "business-app"}}}}
    data = cluster(state)
    data["objects"].update(foreign)
    (state / "cluster.json").write_text(json.dumps(data))
    # git drops one object; the next commit deploys
    policies = "business-app/kubernetes/staging/network-policies.yaml"
    files = drop_document(bundled_tree(), policies, "NetworkPolicy", "api-gateway-metrics")
    run = run_job(deploy_job("staging", files), workspace_with(tmp_path / "two", files), state, "b" * 40)
    assert run.failed_step is None, run
    after = cluster(state)["objects"]
    assert cluster(state)["pruned"] == ["NetworkPolicy/business-app/api-gateway-metrics"]
    assert set(foreign) <= set(after)
    # the migrate Jobs ran again, with the new release's migration image (tests/test_migrations.py)
    changed = sorted(k for k in after if k in before and after[k] != before[k] and not k.endswith("-migrate"))
    pinned = pinned_images("staging", files)
    assert pinned and set(pinned) <= set(after)
    # the services' Deployments get the new release; the exporters, on pinned third-party images, stay as they were
    assert changed == sorted(k for k in after if k.startswith("Deployment/") and k not in pinned)
    for name in changed:  # and in them only the image
        old, new = before[name], after[name]
        assert new["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":sha-" + "b" * 40)
        new["spec"]["template"]["spec"]["containers"][0]["image"] = old["spec"]["template"]["spec"]["containers"][0][
            "image"]
        assert new == old


def kubectl_calls_of_a_good_run(tmp_path: Path, env: str) -> int:
    state = empty_cluster(tmp_path / "good")
    assert run_job(deploy_job(env), workspace_with(tmp_path / "repo", bundled_tree()), state, "a" * 40).failed_step \
        is None
    return sum(1 for call in calls(state) if call.startswith("kubectl "))


def test_a_failure_at_any_kubectl_call_stops_the_job(tmp_path: Path) -> None:
    total = kubectl_calls_of_a_good_run(tmp_path, "staging")
    workspace = workspace_with(tmp_path / "repo", bundled_tree())
    for number in range(1, total + 1):
        state = empty_cluster(tmp_path / f"fail-{number}")
        run = run_job(deploy_job("staging"), workspace, state, "a" * 40, fail_at=number)
        made = [c for c in calls(state) if c.startswith("kubectl ")]
        assert run.failed_step is not None, f"call {number} ({made[number - 1]}) failed and the job went on"
        assert len(made) == number, f"after call {number} failed, the job still ran {made[number:]}"
        assert run.ran[-1] == run.failed_step  # no later step ran


def test_a_failed_blue_green_release_leaves_traffic_on_the_old_slot(tmp_path: Path) -> None:
    """A second release fails at its last switch, after the other Services moved: every Service goes back to the
    slot that was live, which still runs the old release."""
    failing = "patch service invoice-service"
    job = deploy_job("production")
    workspace = workspace_with(tmp_path / "repo", bundled_tree())
    state = empty_cluster(tmp_path / "state")
    assert run_job(job, workspace, state, "a" * 40).failed_step is None
    first = len(calls(state))
    rehearsal = empty_cluster(tmp_path / "rehearsal")
    (rehearsal / "cluster.json").write_text((state / "cluster.json").read_text())
    assert run_job(job, workspace, rehearsal, "b" * 40).failed_step is None
    kubectl = [c for c in calls(rehearsal) if c.startswith("kubectl ")]
    number = next(i for i, c in enumerate(kubectl, 1) if failing in c)
    (state / "calls.log").write_text("")
    run = run_job(job, workspace, state, "b" * 40, fail_at=number)
    assert run.failed_step is not None and first
    assert run.ran[-1] in (run.failed_step, RESTORE_STEP)
    objects = cluster(state)["objects"]
    for service in ("api-gateway", "invoice-service"):
        assert objects[f"Service/business-app/{service}"]["spec"]["selector"]["bizinfra.dev/slot"] == "green"
        assert images(state)[f"Deployment/business-app/{service}-green"].endswith(":sha-" + "a" * 40)


# -- blue-green never blacks out -------------------------------------------------------------------------------------

# Two services are enough for every path: one behind the load balancer (its new slot restarts to get the readiness
# gate), one only in the cluster, so the job's calls stay few and a failure can be injected at each of them.
TWO_SERVICES = {
    "name": "tiny", "domain": "tiny.example.com", "region": "eu-west-1", "registry": "ghcr.io/example/tiny",
    "services": {"web": {"port": 8080, "public": {"host": "www.tiny.example.com"}, "calls": ["api"]},
                 "api": {"port": 8081}},
    "environments": {"development": {"runs_on": "compose"},
                     "production": {"branch": "main", "rollout": "blue-green"}},
    "delivery": {"repository": "example/tiny"},
}


def test_every_failure_and_cancellation_of_a_blue_green_release_leaves_every_service_ready_pods(
        tmp_path: Path) -> None:
    """A second release fails, or is cancelled, at each of its kubectl calls in turn; whatever the restore does
    after it, every Service ends selecting ready pods, on the release's slot only once the release was live."""
    from bizinfra.pipeline import build_tree
    from bizinfra.spec.loader import Spec
    from bizinfra.spec.models import Platform

    files = build_tree([Spec("specs/tiny.yaml", Platform.model_validate(TWO_SERVICES))]).files
    job = deploy_job("production", files, platform="tiny")
    workspace = workspace_with(tmp_path / "repo", files)
    state = empty_cluster(tmp_path / "state")
    assert run_job(job, workspace, state, "a" * 40).failed_step is None
    released = run_job(job, workspace, state, "b" * 40)  # the good run, whose checkpoints the failing runs resume
    assert released.failed_step is None
    assert ready_endpoints(state) == {"web": 2, "api": 2}  # the default minimum of production
    total = sum(1 for call in calls(state) if call.startswith("kubectl "))
    first_release_calls = released.checkpoints[0].kubectl_calls
    for number in range(first_release_calls + 1, total + 1):
        start = [c for c in released.checkpoints if c.kubectl_calls < number][-1]
        for cancel in (False, True):
            run = run_job(job, workspace, state, "b" * 40, fail_at=number, cancel=cancel, start=start)
            what = f"{'cancelled' if cancel else 'failed'} at call {number} ({run.failed_step})"
            assert run.failed_step is not None, what
            assert run.ran[-1] == RESTORE_STEP, what
            endpoints = ready_endpoints(state)
            assert set(endpoints) == {"web", "api"} and min(endpoints.values()) > 0, (what, endpoints)


def tiny_release(tmp_path: Path) -> tuple[dict[str, Any], Path, Path]:
    """The two-service platform after two releases: its Services select blue, green is scaled down."""
    from bizinfra.pipeline import build_tree
    from bizinfra.spec.loader import Spec
    from bizinfra.spec.models import Platform

    files = build_tree([Spec("specs/tiny.yaml", Platform.model_validate(TWO_SERVICES))]).files
    job = deploy_job("production", files, platform="tiny")
    workspace = workspace_with(tmp_path / "repo", files)
    state = empty_cluster(tmp_path / "state")
    for sha in ("a" * 40, "b" * 40):
        assert run_job(job, workspace, state, sha).failed_step is None
    return job, workspace, state


def restore_alone(job: dict[str, Any], state: Path, live: str, idle: str) -> dict[str, Any]:
    """The restore step as it runs after a failure, with the slots the job found: `live` was the old slot."""
    (step,) = [{**s, "if": None} for s in job["steps"] if s["name"] == RESTORE_STEP]
    outputs = {f"slot-{service}": {"live": live, "live-deployment": f"{service}-{live}", "live-replicas": "2",
                                   "idle": idle, "idle-deployment": f"{service}-{idle}"} for service in ("web", "api")}
    files = {name: (state / name).read_text() for name in ("cluster.json", "calls.log")}
    return {"job": {"env": job["env"], "steps": [step]}, "start": Checkpoint(0, outputs, files, 0)}


@pytest.mark.parametrize("old_slot_comes_up", [True, False])
def test_the_restore_selects_a_scaled_down_slot_only_once_its_pods_are_ready(tmp_path: Path,
                                                                             old_slot_comes_up: bool) -> None:
    """The Services select blue and green was scaled down, but the release failed before it was live: green is the
    last good slot. The restore serves both slots, scales green up and waits for it before it selects green; a green
    that cannot come up is never selected, and blue keeps the traffic."""
    job, workspace, state = tiny_release(tmp_path)
    if not old_slot_comes_up:
        data = cluster(state)
        for service in ("web", "api"):
            pod = data["objects"][f"Deployment/tiny/{service}-green"]["spec"]["template"]["spec"]
            pod["containers"][0]["image"] = "ghcr.io/example/tiny/gone:unreleased"  # a rollout never completes
        (state / "cluster.json").write_text(json.dumps(data))
    restore = restore_alone(job, state, live="green", idle="blue")
    earlier = len(calls(state))
    run = run_job(restore["job"], workspace, state, "c" * 40, start=restore["start"])
    assert (run.failed_step is None) == old_slot_comes_up
    objects = cluster(state)["objects"]
    selected = {s: objects[f"Service/tiny/{s}"]["spec"]["selector"]["bizinfra.dev/slot"] for s in ("web", "api")}
    assert selected == ({"web": "green", "api": "green"} if old_slot_comes_up else {"web": "blue", "api": "blue"})
    assert min(ready_endpoints(state).values()) > 0
    log = [c for c in calls(state)[earlier:] if c.startswith("kubectl ")]
    scale = log.index("kubectl scale deployment/web-green --replicas 2 --namespace tiny")
    waited = next(i for i, c in enumerate(log) if c.startswith("kubectl rollout status deployment/web-green "))
    left = int(log[waited].rpartition("--timeout ")[2].removesuffix("s"))
    assert 0 < left <= RESTORE_BUDGET_SECONDS  # what is left of the restore's one budget
    both = [i for i, c in enumerate(log) if c.startswith("kubectl patch service web") and "null" in c]
    assert both and both[0] < scale < waited  # both slots served while green came up
    if old_slot_comes_up:  # run again: nothing left to do, nothing changes
        before = cluster(state)
        again = restore_alone(job, state, live="green", idle="blue")
        assert run_job(again["job"], workspace, state, "c" * 40, start=again["start"]).failed_step is None
        assert cluster(state)["objects"] == before["objects"]


def test_new_pods_without_the_target_health_gate_never_take_the_traffic(tmp_path: Path) -> None:
    """The load balancer controller is down: its pod webhook fails open (failurePolicy Ignore), so the new slot's pods
    come up without the target-health readiness gate, and `rollout status` waits for plain readiness only. Phase one
    refuses them: the release fails before any Service leaves its old slot, and the restore keeps the old slot."""
    job, workspace, state = tiny_release(tmp_path)  # the Services select blue, which runs release b
    data = cluster(state)
    data["webhook_down"] = True
    (state / "cluster.json").write_text(json.dumps(data))
    run = run_job(job, workspace, state, "c" * 40)
    assert run.failed_step == "Wait until the new slot of web is a healthy load balancer target", run
    assert run.ran[-1] == RESTORE_STEP
    assert "Switch web to the new slot" not in run.ran
    objects = cluster(state)["objects"]
    assert {s: objects[f"Service/tiny/{s}"]["spec"]["selector"]["bizinfra.dev/slot"] for s in ("web", "api")} == \
        {"web": "blue", "api": "blue"}
    assert images(state)["Deployment/tiny/web-blue"].endswith(":sha-" + "b" * 40)
    assert min(ready_endpoints(state).values()) > 0
