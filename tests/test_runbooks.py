"""Runbook pages: every alert's `runbook_url` names a generated page, and every page's commands name scripts that
the same tree holds."""

from __future__ import annotations

import re

import yaml
from hypothesis import given

from bizinfra.naming import OUTPUT_FOLDER, RUNBOOKS
from bizinfra.pipeline import build_tree
from bizinfra.spec.loader import Spec, load_platform
from bizinfra.spec.models import Platform
from tests.strategies import platforms
from tests.support import SOURCE, SPECS, plan_of

BASE_URL = "https://github.com/acme/business/blob/main/generated/business-app/docs/runbooks"


def files_of(platform: Platform) -> dict[str, str]:
    """The platform's generated files, by path below its own folder."""
    built = build_tree([Spec(SOURCE, platform)]).files
    return {path.removeprefix(f"{platform.name}/"): content.decode() for path, content in built.items()}


def runbook_urls(files: dict[str, str]) -> dict[str, str]:
    """Alert name -> runbook_url, over every environment's rules.yml (the same URL in each)."""
    urls: dict[str, set[str]] = {}
    for path, text in files.items():
        if re.fullmatch(r"monitoring/[^/]+/rules\.yml", path):
            for group in yaml.safe_load(text)["groups"]:
                for rule in group["rules"]:
                    if "alert" in rule:
                        urls.setdefault(rule["alert"], set()).add(rule["annotations"]["runbook_url"])
    assert all(len(found) == 1 for found in urls.values()), urls
    return {alert: found.pop() for alert, found in urls.items()}


def pages(files: dict[str, str]) -> dict[str, str]:
    return {path: text for path, text in files.items() if path.startswith(f"{RUNBOOKS}/")}


def check_links_and_pages(platform: Platform) -> None:
    files = files_of(platform)
    urls = runbook_urls(files)
    root = f"{OUTPUT_FOLDER}/{platform.name}/"
    for alert, url in urls.items():
        assert url.startswith(root), (alert, url)  # relative to the repository root: the generated folder
        assert url.removeprefix(root) in files, (alert, url)
    assert set(pages(files)) == {url.removeprefix(root) for url in urls.values()}  # no page without its alert
    for path, text in pages(files).items():
        assert text.count("First three commands:") >= 1 and "amtool silence add" in text, path
        assert " in ()" not in text, path  # an empty set-based selector: kubectl refuses it
        for script in re.findall(r"scripts/[\w.-]+", text):
            assert script in files, (path, script)


def test_bundled_specs_link_every_alert_to_its_page() -> None:
    for spec in sorted(SPECS.glob("*.yaml")):
        check_links_and_pages(load_platform(spec))


@given(platforms())
def test_every_alert_of_a_random_platform_links_to_its_page(platform: Platform) -> None:
    check_links_and_pages(platform)


def test_a_full_url_base_still_names_each_alerts_page() -> None:
    platform = load_platform(SPECS / "business-app.yaml")
    custom = platform.model_copy(update={"monitoring": platform.monitoring.model_copy(update={"runbooks": BASE_URL})})
    files = files_of(custom)
    urls = runbook_urls(files)
    assert urls["HighErrorRate"] == f"{BASE_URL}/high-error-rate.md"
    for url in urls.values():
        assert url.startswith(f"{BASE_URL}/")
        assert f"{RUNBOOKS}/{url.removeprefix(BASE_URL + '/')}" in files


def test_a_page_gives_each_environments_cluster_namespace_and_alertmanager() -> None:
    platform = load_platform(SPECS / "business-app.yaml")
    page = files_of(platform)[f"{RUNBOOKS}/database-connection-failed.md"]
    for env in plan_of(platform).on("kubernetes"):
        assert f"scripts/debug-db.sh {env.name} postgres" in page
        assert f"kubectl --context {env.cluster_name} --namespace {env.namespace} get pods" in page
        assert f"kubectl --context {env.cluster_name} --namespace {env.monitoring_stack.namespace} port-forward" in page
        assert f"alertname=DatabaseConnectionFailed service=\"postgres\" environment={env.name}" in page


def test_a_service_page_rolls_back_with_the_scripts_usage() -> None:
    platform = load_platform(SPECS / "business-app.yaml")
    files = files_of(platform)
    page = files[f"{RUNBOOKS}/high-error-rate.md"]
    usage = re.search(r"Usage: rollback\.sh (.+)", files["scripts/rollback.sh"])
    assert usage and usage[1] == "ENVIRONMENT SERVICE REVISION [SLOT]"
    assert 'scripts/rollback.sh production "$service" REVISION "$slot"' in page  # blue-green: a slot
    assert 'scripts/rollback.sh staging "$service" REVISION ' in page  # rolling: none
