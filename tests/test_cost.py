"""The cost estimate: hand-built Terraform JSON priced from the bundled table, totals that add up and grow."""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bizinfra import targets
from bizinfra.artifacts import Artifact, json_file
from bizinfra.cli import main
from bizinfra.cost import CostReport, PriceTable, estimate, estimate_plan, load_prices, money, report_table
from bizinfra.plan import PlatformPlan
from bizinfra.spec.models import Platform
from bizinfra.targets import Target, compile_plan
from bizinfra.targets import terraform as terraform_target
from bizinfra.targets.cost import compile_cost
from tests.strategies import platforms
from tests.support import BUNDLED_SPEC as BUNDLED
from tests.support import bundled_platform, plan_of

PRICES = load_prices("ap-south-1")


def staging_terraform(nodes: int = 1, node_type: str = "t3.medium", db_class: str = "db.t3.medium",
                      multi_az: bool = False, storage: int = 100, cache: str = "cache.t3.medium",
                      cache_nodes: int = 1, nat: int = 1, max_nodes: int = 0) -> dict[str, Any]:
    """The shape the Terraform target writes: resource.<type>.<name>."""
    return {"resource": {
        "aws_eks_cluster": {"main": {"name": "business-app-staging"}},
        "aws_eks_node_group": {"main": {"instance_types": [node_type],
                                        "scaling_config": {"desired_size": nodes, "min_size": nodes,
                                                           "max_size": max(nodes, max_nodes)}}},
        "aws_db_instance": {"postgres": {"instance_class": db_class, "multi_az": multi_az,
                                         "allocated_storage": storage}},
        "aws_elasticache_replication_group": {"redis": {"node_type": cache, "num_cache_clusters": cache_nodes}},
        "aws_nat_gateway": {"main": {"count": nat}},
        "aws_s3_bucket": {"backups": {}, "logs": {}},
        "aws_vpc": {"main": {"cidr_block": "10.0.0.0/16"}},
    }}


LOAD_BALANCER = {"resource": {"aws_lb": {"public": {"load_balancer_type": "application"}}}}


def test_staging_is_priced_line_by_line_as_the_seed_does() -> None:
    report = estimate([staging_terraform(), LOAD_BALANCER], PRICES)
    priced = {line.resource: line.monthly for line in report.lines}
    # The seed's table: EKS $72, 1 x t3.medium $30, db.t3.medium single-AZ $60 + 100 GB gp3 at $0.115,
    # cache.t3.medium $50, NAT $45, S3 $1, ALB $25; and EKS's default 20 GB node disk at $0.08.
    assert priced == {"EKS cluster": Decimal("72.00"), "EC2 (worker nodes)": Decimal("30.00"),
                      "EBS (node volumes)": Decimal("1.60"),
                      "RDS": Decimal("60.00"), "RDS storage": Decimal("11.50"), "ElastiCache": Decimal("50.00"),
                      "NAT gateway": Decimal("45.00"), "S3": Decimal("1.00"), "Load balancer": Decimal("25.00")}
    assert report.total == Decimal("296.10")
    assert report.unpriced == ()


def test_production_sizes_are_priced_from_hourly_figures() -> None:
    report = estimate([staging_terraform(nodes=3, db_class="db.r6g.large", multi_az=True, cache="cache.r6g.large",
                                         cache_nodes=2, nat=2)], PRICES)
    priced = {line.resource: line.monthly for line in report.lines}
    assert priced["RDS"] == Decimal("328.50")  # 0.225 $/h x 730 h x 2 (primary and standby)
    assert priced["RDS storage"] == Decimal("23.00")
    assert priced["ElastiCache"] == Decimal("300.76")  # 0.206 $/h x 730 h x 2 nodes
    assert priced["EC2 (worker nodes)"] == Decimal("90.00")
    assert priced["NAT gateway"] == Decimal("90.00")


def test_a_size_missing_from_the_table_is_listed_and_left_out_of_the_total() -> None:
    known = estimate([staging_terraform()], PRICES)
    report = estimate([staging_terraform(node_type="m7i.48xlarge")], PRICES)
    (unpriced,) = report.unpriced
    assert unpriced.price_key == "ec2:m7i.48xlarge" and unpriced.monthly is None
    assert unpriced.reason == "`ec2:m7i.48xlarge` is not in the ap-south-1 price table; run scripts/refresh_prices.py"
    assert report.total == known.total - Decimal("30.00")
    assert "| **Total** | 1 line(s) not priced, left out |" in "\n".join(report_table(report))


def test_a_node_group_is_priced_at_its_minimum_and_its_maximum() -> None:
    report = estimate([staging_terraform(nodes=2, max_nodes=5)], PRICES)
    nodes = {line.resource: line for line in report.lines}
    assert nodes["EC2 (worker nodes)"].configuration == "2..5 x t3.medium ($60.00 at 2, $150.00 at 5)"
    assert (nodes["EC2 (worker nodes)"].monthly, nodes["EC2 (worker nodes)"].at_most) == (Decimal("60.00"),
                                                                                          Decimal("150.00"))
    assert (nodes["EBS (node volumes)"].monthly, nodes["EBS (node volumes)"].at_most) == (Decimal("3.20"),
                                                                                          Decimal("8.00"))
    assert report.total_at_most == report.total + Decimal("90.00") + Decimal("4.80")
    table = "\n".join(report_table(report))
    assert f"| **Total** | at the fewest nodes | **{money(report.total)}** |" in table
    assert f"| **Total at the most nodes** | every node group at its maximum | **{money(report.total_at_most)}** |" in table


BUDGET = {"resource": {"aws_budgets_budget": {"monthly": {
              "count": "${length(var.budget_alert_emails) > 0 ? 1 : 0}", "time_unit": "MONTHLY", "limit_unit": "USD",
              "limit_amount": "${tostring(var.monthly_budget_usd)}"}}},
          "variable": {"monthly_budget_usd": {"type": "number", "default": 300}}}


def test_the_estimate_is_compared_with_the_budget_terraform_declares() -> None:
    within = estimate([staging_terraform(), BUDGET], PRICES)  # $271.10: the seed's staging without its load balancer
    assert within.budget is not None and within.budget.limit == Decimal("300")
    assert within.budget.source == "var.monthly_budget_usd"
    assert ("| Budget | `aws_budgets_budget.monthly`, `var.monthly_budget_usd`: within, $28.90 to spare | $300.00 |"
            in report_table(within))
    scaling = estimate([staging_terraform(max_nodes=3), BUDGET], PRICES)
    assert ("| Budget | `aws_budgets_budget.monthly`, `var.monthly_budget_usd`: within, $28.90 to spare at the fewest "
            "nodes; over by $34.30 at the most | $300.00 |") in report_table(scaling)
    assert estimate([staging_terraform()], PRICES).budget is None


def test_a_count_terraform_computes_is_not_guessed() -> None:
    document = staging_terraform()
    document["resource"]["aws_nat_gateway"]["main"]["count"] = "${length(aws_subnet.public)}"
    (unpriced,) = estimate([document], PRICES).unpriced
    assert unpriced.resource == "NAT gateway" and unpriced.quantity is None


def test_the_price_table_says_its_date_and_every_price_its_source() -> None:
    assert PRICES.region == "ap-south-1" and PRICES.date
    assert all(price.source.startswith(("seed:", "aws:", "us-east-1:")) for price in PRICES.prices.values())
    assert {"ec2:t3.medium", "rds:db.t3.medium", "rds:db.r6g.large", "elasticache:cache.t3.medium",
            "elasticache:cache.r6g.large"} <= set(PRICES.prices)


def sizes(node_types: list[str], db_classes: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({
        "nodes": st.integers(1, 20),
        "node_type": st.sampled_from(node_types),
        "db_class": st.sampled_from(db_classes),
        "multi_az": st.booleans(),
        "storage": st.integers(20, 2000),
        "cache": st.sampled_from(["cache.t3.medium", "cache.r6g.large"]),
        "cache_nodes": st.integers(1, 4),
        "nat": st.integers(1, 3),
    })


any_sizes = sizes(["t3.medium", "t3.large"], ["db.t3.medium", "db.r6g.large", "db.m5.large"])  # some not priced
priced_sizes = sizes(["t3.medium"], ["db.t3.medium", "db.r6g.large"])


@given(size=any_sizes)
def test_the_total_is_the_sum_of_its_lines(size: dict[str, Any]) -> None:
    report = estimate([staging_terraform(**size), LOAD_BALANCER], PRICES)
    assert report.total == sum(line.monthly for line in report.lines if line.monthly is not None)
    assert all(line.monthly is None or line.monthly == line.monthly.quantize(Decimal("0.01")) for line in report.lines)


@given(size=priced_sizes, grow=st.sampled_from(["nodes", "storage", "cache_nodes", "nat", "multi_az", "db_class"]))
def test_the_total_grows_when_a_size_grows(size: dict[str, Any], grow: str) -> None:
    bigger = dict(size)
    if grow == "multi_az":
        size["multi_az"], bigger["multi_az"] = False, True
    elif grow == "db_class":
        size["db_class"], bigger["db_class"] = "db.t3.medium", "db.r6g.large"
    else:
        bigger[grow] = size[grow] + 1
    assert estimate([staging_terraform(**bigger)], PRICES).total > estimate([staging_terraform(**size)], PRICES).total


# -- wiring: docs/cost.md and the command, with a stand-in Terraform target ---------------------


def fake_terraform(plan: PlatformPlan) -> list[Artifact]:
    """The seed's sizes, and the public load balancer, which the Terraform target owns (docs/edge.md)."""
    public_load_balancer = {"resource": {"aws_lb": {"public": {"load_balancer_type": "application"}}}}
    return [artifact for env in plan.on("kubernetes") for artifact in (
        json_file(f"terraform/{env.name}/main.tf.json",
                  staging_terraform(nodes=env.nodes.min, db_class=env.sizes.database, cache=env.sizes.cache,
                                    multi_az=env.highly_available)),
        json_file(f"terraform/{env.name}/public.tf.json", public_load_balancer))]


@pytest.fixture
def with_terraform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(targets.TARGETS, "terraform", Target("tests.test_cost:fake_terraform"))


def test_cost_markdown_has_a_table_per_environment_and_the_prices_used() -> None:
    plan = plan_of(bundled_platform())
    (artifact,) = compile_cost(plan, fake_terraform(plan))
    text = artifact.documents[0]
    assert artifact.path == "docs/cost.md"
    assert "## development\n\nRuns on a laptop with docker compose: no AWS resources." in text
    assert "| Load balancer | application | $25.00 |" in text  # Terraform's public load balancer
    assert "| **Total** | | **$296.10** |" in text  # staging: the seed's sizes and its ALB
    assert "| RDS | db.r6g.large, Multi-AZ | $328.50 |" in text  # production
    assert "seed: EKS Cluster, 1 cluster, $72" in text


@pytest.mark.usefixtures("with_terraform")
def test_cost_command_prints_the_environment_table(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--env", "staging"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("business-app / staging\n| Resource | Configuration | Monthly cost (USD) |")
    assert "| **Total** | | **$296.10** |" in out and "production" not in out


@pytest.mark.usefixtures("with_terraform")
def test_cost_command_refuses_an_unknown_environment(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--env", "prod"]) == 2
    assert "no environment 'prod'; one of: development, production, staging" in capsys.readouterr().err


def test_cost_command_refuses_a_bad_spec(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "specs" / "business-app.yaml").write_text("name: x\n")
    assert main(["cost"]) == 2
    assert "nothing was estimated" in capsys.readouterr().err


def test_a_region_without_a_price_table_is_said_not_guessed() -> None:
    plan = plan_of(bundled_platform().model_copy(update={"region": "eu-west-1"}))
    (artifact,) = compile_cost(plan, fake_terraform(plan))
    text = artifact.documents[0]
    assert "Not estimated: no price table for region eu-west-1; bundled: ap-south-1." in text
    assert "| RDS | db.r6g.large, Multi-AZ | not priced: no price table for eu-west-1; run scripts/refresh_prices.py |" \
        in text
    assert "| **Total** | not estimated: no price table for eu-west-1; run scripts/refresh_prices.py | |" in text
    assert "$" not in text


def test_every_line_of_a_region_without_a_table_says_why() -> None:
    report = estimate([staging_terraform(), LOAD_BALANCER, BUDGET], PriceTable.missing("eu-west-1"))
    assert report.lines and report.unpriced == report.lines
    assert {line.reason for line in report.lines} == {"no price table for eu-west-1; run scripts/refresh_prices.py"}
    assert report_table(report)[-1] == ("| Budget | `aws_budgets_budget.monthly`, `var.monthly_budget_usd`: nothing to "
                                        "compare | $300.00 |")


def test_the_cost_target_prices_the_terraform_already_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    compile_terraform = terraform_target.compile_terraform

    def counted(plan: PlatformPlan) -> list[Artifact]:
        compiled.append(plan.name)
        return compile_terraform(plan)

    monkeypatch.setattr(terraform_target, "compile_terraform", counted)
    artifacts = compile_plan(plan_of(bundled_platform()))
    assert compiled == ["business-app"]
    cost = next(a for a in artifacts if a.path == "docs/cost.md")
    assert "| RDS | db.r6g.large, Multi-AZ |" in cost.documents[0]


# -- the real Terraform target ------------------------------------------------------------------


def real_report(spec: dict[str, Any], environment: str) -> CostReport:
    plan = plan_of(Platform.model_validate(spec))
    reports, prices, missing = estimate_plan(plan, compile_plan(plan, ["terraform"]))
    assert prices is not None, missing
    return reports[environment]


def bundled_spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(BUNDLED.read_text())
    return spec


def test_everything_the_terraform_target_creates_for_the_bundled_spec_is_priced() -> None:
    for environment in ("staging", "production"):
        report = real_report(bundled_spec(), environment)
        assert report.unpriced == ()
        assert {"EKS cluster", "EC2 (worker nodes)", "RDS", "ElastiCache", "NAT gateway", "S3"} <= {
            line.resource for line in report.lines}
        assert report.total == sum(line.monthly for line in report.lines if line.monthly is not None)
    production = {line.resource: line for line in real_report(bundled_spec(), "production").lines}
    assert production["RDS"].configuration == "db.r6g.large, Multi-AZ"
    assert production["EC2 (worker nodes)"].configuration.startswith("3..6 x t3.medium")


def test_the_bundled_staging_shows_its_node_range_and_its_budget() -> None:
    report = real_report(bundled_spec(), "staging")  # nodes: {min: 1, max: 5}
    nodes = next(line for line in report.lines if line.resource == "EC2 (worker nodes)")
    assert nodes.configuration.startswith("1..5 x t3.medium") and nodes.monthly is not None
    assert nodes.at_most == 5 * nodes.monthly
    assert report.budget is not None and report.budget.address == "aws_budgets_budget.monthly"
    assert report.budget.source == "var.monthly_budget_usd"


@settings(max_examples=min(15, settings().max_examples))  # each example compiles Terraform twice
@given(nodes=st.integers(1, 6), change=st.sampled_from(["nodes", "database", "cache", "database_storage",
                                                         "highly_available"]))
def test_the_real_estimate_grows_when_the_specs_sizes_grow(nodes: int, change: str) -> None:
    small, large = bundled_spec(), bundled_spec()
    small["environments"]["staging"]["nodes"] = nodes
    large["environments"]["staging"]["nodes"] = nodes + (change == "nodes")
    bigger = {"database": {"database": "db.r6g.large"}, "cache": {"cache": "cache.r6g.large"},
              "database_storage": {"database_storage": 500}}.get(change, {})
    large["environments"]["staging"]["sizes"] = bigger
    large["environments"]["staging"]["highly_available"] = change == "highly_available"
    assert real_report(large, "staging").total > real_report(small, "staging").total


# -- scripts/refresh_prices.py, on a product shaped as AWS's Price List Query API returns it (no AWS here) ----------


def refresh_script() -> Any:
    path = Path(__file__).resolve().parents[1] / "scripts" / "refresh_prices.py"
    spec = importlib.util.spec_from_file_location("refresh_prices", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_refresh_script_reads_the_on_demand_price_of_a_product() -> None:
    script = refresh_script()
    product = {"product": {"sku": "ABC123"}, "terms": {"OnDemand": {"ABC123.JRTCKXETXF": {
        "effectiveDate": "2026-11-01T00:00:00Z", "priceDimensions": {"ABC123.JRTCKXETXF.6YS6EN2CT7": {
            "beginRange": "0", "endRange": "Inf", "unit": "Hrs", "pricePerUnit": {"USD": "0.0448000000"}}}}}}}
    assert list(script.on_demand_usd(product)) == [(0.0448, "ABC123", "2026-11-01")]
    service, filters, unit, monthly = script.query("ec2:t3.large")
    assert (service, filters["instanceType"], unit, monthly) == ("AmazonEC2", "t3.large", "node", False)
    assert script.query("rds:db.r6g.large")[1]["instanceType"] == "db.r6g.large"
    assert script.query("rds:storage-gp3")[3] is True


@given(platforms())
def test_the_budget_is_above_the_reports_own_estimate_wherever_it_is_priced(platform: Platform) -> None:
    """An alert at 80% of a budget below the expected spend fires every month, and then means nothing: where the
    region is priced, even every node group at its maximum stays under 80% of the budget."""
    plan = plan_of(platform)
    reports, prices, _ = estimate_plan(plan, terraform_target.compile_terraform(plan))
    for report in reports.values():
        assert report.budget is not None
        if prices is None:
            continue
        assert report.total_at_most > 0
        assert report.budget.limit * Decimal("0.8") >= report.total_at_most, (
            f"budget {report.budget.limit} against {report.total_at_most} at the most nodes")
