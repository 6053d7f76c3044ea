"""`bizinfra diff`: pairs of specs, and what a reviewer reads about the change between them."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from bizinfra.cli import main
from bizinfra.diff import Change, changes, markdown, text
from bizinfra.pipeline import build_tree
from bizinfra.spec.loader import load_specs
from tests.support import ROOT, SPECS

pytestmark = pytest.mark.slow  # each builds the bundled tree twice or more: the full tier runs them

BUNDLED = (SPECS / "business-app.yaml").read_text()
README = ROOT / "README.md"
EXAMPLE_CHANGE = ('redis: {engine: redis, version: "7"}', 'redis: {engine: redis, version: "7", port: 6380}')


@functools.cache
def tree(spec: str) -> dict[str, bytes]:
    """What the spec generates, its files naming it as the bundled spec, so only the change differs."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "business-app.yaml"
        path.write_text(spec)
        return build_tree(load_specs(path, shown_as="specs/business-app.yaml")).files


def changed(*replacements: tuple[str, str]) -> list[Change]:
    spec = BUNDLED
    for old, new in replacements:
        assert old in spec, old
        spec = spec.replace(old, new)
    return changes(tree(BUNDLED), tree(spec))


def one(found: list[Change], environment: str, address: str) -> Change:
    (match,) = [c for c in found if c.environment == environment and c.object == address]
    return match


def test_a_major_postgres_upgrade_is_in_place_and_cannot_be_undone() -> None:
    found = changed(('postgres: {engine: postgres, version: "15"}', 'postgres: {engine: postgres, version: "16"}'))
    database = one(found, "production", "aws_db_instance.postgres")
    assert (database.change, database.data_loss) == ("changed", False)
    assert "in place, cannot be undone: engine_version 15 -> 16" in database.why
    assert "allow_major_version_upgrade" in database.why  # RDS refuses a major upgrade without it
    assert one(found, "production", "aws_db_parameter_group.postgres").change == "replaced"  # family postgres16
    assert not any(c.data_loss for c in found)


def test_a_new_vpc_range_replaces_the_network_and_strands_the_data_stores() -> None:
    found = changed(("cidr: 10.0.0.0/16", "cidr: 10.1.0.0/16"))
    for address in ("aws_vpc.main", "aws_subnet.private", "aws_subnet.public", "aws_security_group.postgres",
                    "aws_eks_cluster.main"):
        assert one(found, "production", address).change == "replaced", address
    # Terraform updates a subnet group's subnets in place; the store inside cannot follow to the new VPC.
    assert one(found, "production", "aws_db_subnet_group.postgres").change == "changed"
    for address in ("aws_db_instance.postgres", "aws_elasticache_replication_group.redis"):
        store = one(found, "production", address)
        assert store.change == "changed" and "its VPC is replaced" in store.why, store
    assert not [c for c in found if c.object == "aws_eks_access_entry.admin"]  # reads the cluster's name: known
    assert not any(c.target == "monitoring" for c in found)


def test_a_forced_replacement_of_a_data_store_is_marked_data_loss() -> None:
    found = changed(EXAMPLE_CHANGE)
    cache = one(found, "production", "aws_elasticache_replication_group.redis")
    assert (cache.change, cache.data_loss) == ("replaced", True)
    assert cache.why.startswith("port forces a new resource")
    assert [c.object for c in found if c.data_loss] == ["aws_elasticache_replication_group.redis"] * 2


def test_adding_a_service_adds_kubernetes_objects_and_leaves_alerts_alone() -> None:
    # Ahead of invoice-service, so the new service does not take over the keys (uses) after its port.
    found = changed(("  invoice-service:\n", "  search-service:\n    port: 3005\n  invoice-service:\n"))
    added = {(c.kind, c.object) for c in found if c.environment == "production" and c.change == "added"}
    assert {("Deployment", "business-app/search-service-blue"), ("Service", "business-app/search-service"),
            ("ServiceAccount", "business-app/search-service")} <= added
    alerts = [(c.object, c.change) for c in found if c.environment == "production" and c.kind == "alert"]
    assert ("ServiceDown{service=search-service}", "added") in alerts  # its own alert; the others stay
    assert not [name for name, change in alerts if change != "changed" and "search-service" not in name]
    assert not [name for name, _ in alerts if name.startswith(("ErrorBudget", "ServiceDown{service=auth"))]
    assert not any(c.data_loss for c in found)


def test_markdown_is_a_table_with_data_loss_marked() -> None:
    report = markdown(changed(EXAMPLE_CHANGE))
    rows = [line for line in report.splitlines() if line.startswith("|")]
    assert rows[0] == "| | where | target | object | change | why |" and set(rows[1]) <= set("|- ")
    assert all(row.count(" | ") == 5 for row in rows[2:])
    assert rows[2].startswith("| :warning: data loss | business-app/production | terraform | "
                              "`aws_elasticache_replication_group.redis` | replaced |")
    assert markdown([]) == "### bizinfra diff\n\n**no changes**\n"


def readme_example() -> str:
    """The README's example: the bundled spec with Redis moved to port 6380."""
    return text(changed(EXAMPLE_CHANGE))


def test_the_readme_example_is_what_diff_prints() -> None:
    found = re.search(r"## Review a spec change\n.*?```text\n(.*?)```", README.read_text(), re.S)
    assert found, "README.md: no '## Review a spec change' section with a ```text block"
    fresh = readme_example()
    assert found[1] == fresh, f"README.md's example is stale; the block should read:\n{fresh}"


def test_the_command_reports_and_refuses_bad_input(tmp_path: Path) -> None:
    assert main(["diff", "--spec", str(SPECS), "--against", "no-such-revision"]) == 2
    outside = tmp_path / "business-app.yaml"
    outside.write_text(BUNDLED)
    assert main(["diff", "--spec", str(outside), "--against", "HEAD"]) == 2
    assert main(["generate", "--spec", str(outside), "--out", str(tmp_path / "a")]) == 0
    outside.write_text(BUNDLED.replace(*EXAMPLE_CHANGE))
    assert main(["generate", "--spec", str(outside), "--out", str(tmp_path / "b")]) == 0
    assert main(["diff", "--from", str(tmp_path / "a"), "--out", str(tmp_path / "b"), "--format", "markdown"]) == 0
    assert main(["diff", "--from", str(tmp_path / "nowhere-file"), "--out", str(outside)]) == 2
    run = subprocess.run([sys.executable, "-m", "bizinfra", "diff", "--from", str(tmp_path / "a"), "--out",
                          str(tmp_path / "b")], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and "DATA LOSS port forces a new resource" in run.stdout


def test_pull_requests_get_the_diff_as_a_comment() -> None:
    workflow = yaml.safe_load((ROOT / "generated/business-app/github/workflows/infrastructure.yml").read_text())
    review = workflow["jobs"]["review"]
    assert review["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert workflow["permissions"] == {}
    others = [job for name, job in workflow["jobs"].items() if name != "review"]
    assert any(name.startswith("drift-") for name in workflow["jobs"])
    assert all("pull-requests" not in job.get("permissions", {}) for job in others)
    steps = review["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    runs = " ".join(step.get("run", "") for step in steps)
    assert '--against "origin/$BASE_REF" --format markdown > diff.md' in runs
    assert "gh pr comment" in runs and "--edit-last" in runs and "${{" not in runs
