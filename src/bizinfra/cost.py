"""The monthly cost of an environment, priced from the resources its Terraform and Kubernetes documents create.

`estimate` reads documents, not the spec: what is priced is what would be applied. It knows the
resource types that cost money in the seed's design (cluster, nodes, database, cache, NAT gateways,
load balancers, storage, monitoring); a size missing from the price table is listed as not priced, with
the reason, and left out of the total, never guessed. A region without a bundled table is priced against an
empty one, so every line says so. Node groups are priced at their minimum, with the cost at their maximum beside
it; the Terraform budget's limit, when the documents declare one, is compared with both.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bizinfra.artifacts import Artifact
    from bizinfra.plan import EnvironmentPlan, PlatformPlan

CENT = Decimal("0.01")
# The seed's Cost Estimation table, in its order.
ORDER = ["EKS cluster", "EC2 (worker nodes)", "EBS (node volumes)", "RDS", "RDS storage", "ElastiCache", "ALB",
         "Load balancer", "NAT gateway", "Public IPv4", "S3", "CloudWatch", "KMS", "Secrets Manager", "Route 53",
         "CloudFront", "WAF"]
EKS_DEFAULT_DISK_GB = 20  # a managed node group's disk without a launch template (EKS API reference: diskSize)
# Resources priced per piece: (line, price key, what one piece is).
PER_PIECE = {
    "aws_eip": ("Public IPv4", "vpc:public-ipv4", "Elastic IP"),
    "aws_kms_key": ("KMS", "kms:key", "key"),
    "aws_secretsmanager_secret": ("Secrets Manager", "secretsmanager:secret", "secret"),
    "aws_route53_zone": ("Route 53", "route53:zone", "hosted zone"),
}
NODE_GROUP_DEFAULT_TYPE = "t3.medium"  # EKS managed node groups' default instance type (EKS API reference)
REFRESH = "run scripts/refresh_prices.py"  # in bizinfra's repository: writes data/prices/<region>.json


@dataclass(frozen=True)
class Price:
    """One price of the table: USD a month for one `unit`, and where the figure comes from."""

    key: str
    monthly: Decimal  # USD per unit per month
    unit: str
    source: str


@dataclass(frozen=True)
class PriceTable:
    """A region's bundled prices, by key (`ec2:t3.medium`), with the date they were read."""

    region: str
    date: str
    note: str
    prices: Mapping[str, Price]
    bundled: bool = True  # False: no table for the region, so nothing is priced

    def get(self, key: str) -> Price | None:
        return self.prices.get(key)

    @classmethod
    def missing(cls, region: str) -> PriceTable:
        """The empty table of a region bizinfra has no prices for."""
        return cls(region, "", "", {}, bundled=False)


@dataclass(frozen=True)
class CostLine:
    """One row of the estimate: a priced (or unpriced) resource and how much of it there is."""

    resource: str  # what it is, in the seed's words: "EC2 (worker nodes)"
    address: str  # where it comes from: a Terraform address or a Kubernetes object
    configuration: str  # "3 x t3.medium"
    price_key: str
    quantity: Decimal | None  # None when Terraform computes it (count from an expression)
    monthly: Decimal | None  # None when not priced
    reason: str = ""  # why it is not priced
    at_most: Decimal | None = None  # a node group's line at its maximum size, when that differs

    @property
    def priced(self) -> bool:
        return self.monthly is not None

    @property
    def monthly_at_most(self) -> Decimal | None:
        return self.at_most if self.at_most is not None else self.monthly


@dataclass(frozen=True)
class CostReport:
    """One environment's estimate: its lines, their total, and the lines the table could not price."""

    region: str
    lines: tuple[CostLine, ...]
    budget: Budget | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.monthly for line in self.lines if line.monthly is not None), Decimal("0.00"))

    @property
    def total_at_most(self) -> Decimal:
        """The total with every node group at its maximum size."""
        return sum((amount for line in self.lines if (amount := line.monthly_at_most) is not None), Decimal("0.00"))

    @property
    def scales(self) -> bool:
        return any(line.at_most is not None for line in self.lines)

    @property
    def unpriced(self) -> tuple[CostLine, ...]:
        return tuple(line for line in self.lines if not line.priced)


@dataclass(frozen=True)
class Budget:
    """The monthly limit of the environment's aws_budgets_budget, as its documents set it."""

    address: str
    limit: Decimal
    source: str  # where the figure comes from: "var.monthly_budget_usd (default)"


class NoPriceTable(LookupError):
    """No bundled price table for the region."""


def load_prices(region: str) -> PriceTable:
    """The bundled price table of a region (data/prices/<region>.json)."""
    folder = resources.files("bizinfra") / "data" / "prices"
    path = folder / f"{region}.json"
    if not path.is_file():
        bundled = sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))
        raise NoPriceTable(f"no price table for region {region}; bundled: {', '.join(bundled)}")
    data = json.loads(path.read_text(encoding="utf-8"))
    return price_table(data)


def price_table(data: Mapping[str, Any]) -> PriceTable:
    """A price table from its JSON form; hourly prices are turned into monthly ones."""
    hours = Decimal(str(data["hours_per_month"]))
    prices = {}
    for key, item in data["prices"].items():
        monthly = (Decimal(str(item["usd_per_month"])) if "usd_per_month" in item
                   else Decimal(str(item["usd_per_hour"])) * hours)
        prices[key] = Price(key, monthly, item["unit"], item["source"])
    return PriceTable(data["region"], data["date"], data["note"], prices)


# -- reading documents --------------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """One Terraform resource block: its type, name and body."""

    type: str
    name: str
    body: Mapping[str, Any]

    @property
    def address(self) -> str:
        return f"{self.type}.{self.name}"

    @property
    def count(self) -> int | None:
        """How many instances the block creates; None when Terraform computes it."""
        if "count" in self.body:
            count = self.body["count"]
            return count if isinstance(count, int) else None
        if "for_each" in self.body:
            each = self.body["for_each"]
            return len(each) if isinstance(each, (list, dict)) else None
        return 1


def terraform_resources(documents: Iterable[Mapping[str, Any]]) -> Iterator[Resource]:
    """Every resource block of Terraform JSON documents, in the `resource.<type>.<name>` or list form."""
    for document in documents:
        blocks = document.get("resource", {})
        for block in blocks if isinstance(blocks, list) else [blocks]:
            for kind in sorted(block):
                for name in sorted(block[kind]):
                    bodies = block[kind][name]
                    for body in bodies if isinstance(bodies, list) else [bodies]:
                        yield Resource(kind, name, body)


# -- pricing ------------------------------------------------------------------------------------


def estimate(documents: Iterable[Mapping[str, Any]], prices: PriceTable) -> CostReport:
    """The monthly cost of one environment's Terraform JSON documents."""
    documents = list(documents)
    resources_ = list(terraform_resources(documents))
    by_address = {resource.address: resource for resource in resources_}
    lines: list[CostLine] = []
    for resource in resources_:
        lines += price_resource(resource, prices, by_address)
    for kind, (name, key, piece) in PER_PIECE.items():
        pieces = [r for r in resources_ if r.type == kind]
        counts = [r.count for r in pieces]
        if pieces:
            quantity = None if None in counts else Decimal(sum(c for c in counts if c is not None))
            lines.append(line(prices, name, ", ".join(r.address for r in pieces),
                              f"{quantity if quantity is not None else '?'} x {piece}", key, quantity))
    buckets = [r for r in resources_ if r.type == "aws_s3_bucket"]
    if buckets:
        lines.append(line(prices, "S3", ", ".join(r.address for r in buckets), f"{len(buckets)} buckets, 50 GB",
                          "s3:storage", Decimal(1)))
    monitoring = [r for r in resources_ if r.type.startswith("aws_cloudwatch_")]
    if monitoring:
        lines.append(line(prices, "CloudWatch", f"{len(monitoring)} CloudWatch resources", "basic monitoring",
                          "cloudwatch:basic", Decimal(1)))
    ordered = tuple(sorted(lines, key=lambda item: (ORDER.index(item.resource), item.address)))
    return CostReport(prices.region, ordered, budget(resources_, documents))


def budget(resources_: Iterable[Resource], documents: Iterable[Mapping[str, Any]]) -> Budget | None:
    """The first monthly USD budget's limit: a number, or a variable's default (what `terraform apply` uses unless
    told otherwise); None when there is no budget or its limit is computed."""
    variables: dict[str, Any] = {}
    for document in documents:
        blocks = document.get("variable", {})
        for block in blocks if isinstance(blocks, list) else [blocks]:
            variables.update(block)
    for resource in resources_:
        if resource.type != "aws_budgets_budget" or resource.body.get("time_unit") != "MONTHLY":
            continue
        limit = str(resource.body.get("limit_amount", ""))
        match = re.fullmatch(r"\$\{(?:tostring\()?var\.([\w-]+)\)?\}", limit)
        if match and "default" in variables.get(match[1], {}):
            return Budget(resource.address, Decimal(str(variables[match[1]]["default"])), f"var.{match[1]}")
        if re.fullmatch(r"\d+(\.\d+)?", limit):
            return Budget(resource.address, Decimal(limit), "limit_amount")
    return None


def price_resource(resource: Resource, prices: PriceTable, by_address: Mapping[str, Resource]) -> list[CostLine]:
    """The lines one resource costs; none for a resource type that costs nothing by itself."""
    body, count = resource.body, resource.count
    quantity = Decimal(count) if count is not None else None

    def times(factor: int) -> Decimal | None:
        return quantity * factor if quantity is not None else None

    if resource.type == "aws_eks_cluster":
        return [line(prices, "EKS cluster", resource.address, "control plane", "eks:cluster", quantity)]
    if resource.type == "aws_eks_node_group":
        scaling = body.get("scaling_config", {})
        size = int(scaling.get("min_size", scaling.get("desired_size", 1)))
        most = max(size, int(scaling.get("max_size", size)))
        instance = (body.get("instance_types") or [NODE_GROUP_DEFAULT_TYPE])[0]
        disk = node_disk_gb(body, by_address)
        # Priced at the minimum the autoscaler keeps, and at the maximum it may reach. Spot nodes are priced on
        # demand: an upper bound, since the Spot price moves.
        spot = ", Spot (priced on demand)" if body.get("capacity_type") == "SPOT" else ""
        span = f"{size}..{most}" if most > size else f"{size}"
        lines = [line(prices, "EC2 (worker nodes)", resource.address, f"{span} x {instance}{spot}", f"ec2:{instance}",
                      times(size)),
                 line(prices, "EBS (node volumes)", resource.address, f"{span} x {disk} GB gp3", "ebs:gp3",
                      times(size * disk))]
        if most == size:
            return lines
        at_most = [line(prices, item.resource, item.address, "", item.price_key, times(most * per_node))
                   for item, per_node in zip(lines, (1, disk), strict=True)]
        return [dataclasses.replace(item, at_most=top.monthly, configuration=item.configuration + (
                    f" ({money(item.monthly)} at {size}, {money(top.monthly)} at {most})"
                    if item.monthly is not None and top.monthly is not None else ""))
                for item, top in zip(lines, at_most, strict=True)]
    if resource.type == "aws_db_instance":
        copies = 2 if body.get("multi_az") is True else 1
        storage = int(body.get("allocated_storage", 0))
        deployment = "Multi-AZ" if copies == 2 else "Single-AZ"
        return [
            line(prices, "RDS", resource.address, f"{body.get('instance_class')}, {deployment}",
                 f"rds:{body.get('instance_class')}", times(copies)),
            line(prices, "RDS storage", resource.address, f"{storage} GB gp3 x {copies}", "rds:storage-gp3",
                 times(storage * copies)),
        ]
    if resource.type == "aws_elasticache_replication_group":
        nodes = cache_nodes(body)
        return [line(prices, "ElastiCache", resource.address, f"{nodes} x {body.get('node_type')}",
                     f"elasticache:{body.get('node_type')}", times(nodes))]
    if resource.type == "aws_nat_gateway":
        return [line(prices, "NAT gateway", resource.address, f"{count if count is not None else '?'} NAT",
                     "vpc:nat-gateway", quantity)]
    if resource.type == "aws_cloudfront_distribution":
        return [line(prices, "CloudFront", resource.address, "1 distribution, traffic not estimated",
                     "cloudfront:distribution", quantity)]
    if resource.type == "aws_wafv2_web_acl":
        rules = len(body.get("rule", []))
        return [line(prices, "WAF", resource.address, "1 web ACL", "wafv2:web-acl", quantity),
                line(prices, "WAF", resource.address, f"{rules} rules", "wafv2:rule", times(rules))]
    if resource.type in ("aws_lb", "aws_alb"):
        kind = body.get("load_balancer_type", "application")
        return [line(prices, "Load balancer", resource.address, kind, f"elb:{kind}", quantity)]
    return []


def node_disk_gb(body: Mapping[str, Any], by_address: Mapping[str, Resource]) -> int:
    """The root volume of each node: from the node group's launch template, else EKS's default."""
    reference = str(body.get("launch_template", {}).get("id", ""))
    match = re.search(r"\$\{(aws_launch_template\.[\w-]+)\.", reference)
    template = by_address.get(match[1]) if match else None
    if template is None:
        return int(body.get("disk_size", EKS_DEFAULT_DISK_GB))
    return sum(int(mapping.get("ebs", {}).get("volume_size", 0)) for mapping in
               template.body.get("block_device_mappings", []))


def cache_nodes(body: Mapping[str, Any]) -> int:
    """Nodes of a replication group: num_cache_clusters, or shards times (1 + replicas) in cluster mode."""
    if "num_cache_clusters" in body:
        return int(body["num_cache_clusters"])
    if "num_node_groups" in body:
        return int(body["num_node_groups"]) * (1 + int(body.get("replicas_per_node_group", 0)))
    return 1


def line(prices: PriceTable, resource: str, address: str, configuration: str, key: str,
         quantity: Decimal | None) -> CostLine:
    """A line priced from the table: None, and the reason, when the key is missing or the quantity unknown."""
    price = prices.get(key)
    if not prices.bundled:
        return CostLine(resource, address, configuration, key, quantity, None,
                        f"no price table for {prices.region}; {REFRESH}")
    if price is None:
        return CostLine(resource, address, configuration, key, quantity, None,
                        f"`{key}` is not in the {prices.region} price table; {REFRESH}")
    if quantity is None:
        return CostLine(resource, address, configuration, key, quantity, None, "Terraform computes the count")
    monthly = (price.monthly * quantity).quantize(CENT, rounding=ROUND_HALF_UP)
    return CostLine(resource, address, configuration, key, quantity, monthly)


# -- the report ---------------------------------------------------------------------------------


def money(amount: Decimal) -> str:
    """Dollars and cents, with thousands separated."""
    return f"${amount:,.2f}"


def unit_price(amount: Decimal) -> str:
    """Cents, or the fraction of a cent a per-GB price has."""
    return money(amount) if amount == amount.quantize(CENT) else f"${amount.normalize():f}"


def report_table(report: CostReport) -> list[str]:
    """The seed's Cost Estimation table: one row per line, then the total (at the fewest and at the most nodes), and
    the budget it is compared with."""
    rows = ["| Resource | Configuration | Monthly cost (USD) |", "|---|---|---:|"]
    for item in report.lines:
        cost = money(item.monthly) if item.monthly is not None else f"not priced: {item.reason}"
        rows.append(f"| {item.resource} | {item.configuration} | {cost} |")
    left_out = f"{len(report.unpriced)} line(s) not priced, left out" if report.unpriced else ""
    limit = report.budget.limit if report.budget is not None else None
    if report.lines and not any(item.priced for item in report.lines):
        rows.append(f"| **Total** | not estimated: {report.lines[0].reason} | |")
        verdict = "nothing to compare"
    elif not report.scales:
        rows.append(f"| **Total** |{' ' + left_out if left_out else ''} | **{money(report.total)}** |")
        verdict = versus(report.total, limit) if limit is not None else ""
    else:
        rows += [f"| **Total** | at the fewest nodes{'; ' + left_out if left_out else ''} | **{money(report.total)}** |",
                 f"| **Total at the most nodes** | every node group at its maximum | **{money(report.total_at_most)}** |"]
        verdict = (f"{versus(report.total, limit)} at the fewest nodes; {versus(report.total_at_most, limit)} at the most"
                   if limit is not None else "")
    if report.budget is not None:
        rows.append(f"| Budget | `{report.budget.address}`, `{report.budget.source}`: {verdict} | "
                    f"{money(report.budget.limit)} |")
    return rows


def versus(total: Decimal, limit: Decimal) -> str:
    """The estimate against the budget's limit, in words."""
    if total > limit:
        return f"over by {money(total - limit)}"
    return f"within, {money(limit - total)} to spare"


def cost_markdown(plan: PlatformPlan, reports: Mapping[str, CostReport], prices: PriceTable | None,
                  missing: str = "") -> str:
    """docs/cost.md: a table per environment, then every price used with its source."""
    lines = [f"# {plan.name}: monthly cost estimate", ""]
    if prices is None:
        lines += [missing, ""]
    else:
        lines += [f"On-demand prices for {prices.region} from the bundled price table of {prices.date}, for the",
                  "resources the generated Terraform and Kubernetes files create. Data transfer, backups and",
                  "request charges are not included.", ""]
    for env in plan.environments:
        lines += [f"## {env.name}", ""]
        report = reports.get(env.name)
        if env.runs_on == "compose":
            lines += ["Runs on a laptop with docker compose: no AWS resources.", ""]
        elif report is None:
            lines += ["Not estimated: the bundled prices do not cover this region.", ""]
        else:
            lines += [*report_table(report), ""]
            if report.budget is not None:
                lines += [f"The budget is `{report.budget.source}` as generated; Terraform creates it, and it alerts, only "
                          "when `budget_alert_emails` is set.", ""]
    if prices is not None:
        lines += ["## Prices used", "", prices.note, "", "| Price | Monthly (USD) | Per | Source |",
                  "|---|---:|---|---|"]
        lines += [f"| `{p.key}` | {unit_price(p.monthly)} | {p.unit} | {p.source} |"
                  for p in prices.prices.values()]
    return "\n".join(lines).rstrip("\n") + "\n"


def environment_documents(env: EnvironmentPlan, artifacts: Iterable[Artifact]) -> list[Any]:
    """The Terraform JSON documents of one environment's own stack: not its standby stack (`standby/`), which runs
    in another region, whose prices the table does not hold."""
    folder = f"terraform/{env.name}/"
    return [document for artifact in artifacts
            if artifact.path.startswith(folder) and "/" not in artifact.path.removeprefix(folder)
            for document in artifact.documents if isinstance(document, dict)]


Estimates = tuple[dict[str, CostReport], PriceTable | None, str]


def estimate_plan(plan: PlatformPlan, terraform: Iterable[Artifact]) -> Estimates:
    """Each Kubernetes environment's report, priced from the artifacts the Terraform target compiled for the plan;
    with the price table used, or None and why nothing was priced."""
    region = plan.region
    found: PriceTable | None
    try:
        found = prices = load_prices(region)
        missing = ""
    except NoPriceTable as error:
        found, prices = None, PriceTable.missing(region)
        missing = f"Not estimated: {error}. To price it, {REFRESH} --region {region} in bizinfra's repository."
    terraform = list(terraform)
    reports = {env.name: estimate(environment_documents(env, terraform), prices) for env in plan.on("kubernetes")}
    return reports, found, missing
