"""Write src/bizinfra/data/prices/<region>.json from AWS's Price List Query API, so `bizinfra cost` prices that region.

    python scripts/refresh_prices.py --region eu-west-1 [--region ...] [--size ec2:t3.large ...]

Needs the AWS CLI (v2) and credentials of any AWS account allowed `pricing:GetProducts`; the Price List API answers
from us-east-1 whatever region is priced (AWS documentation, "Using the AWS Price List Query API"). It is not run in
CI: the machines have no access to AWS. Every figure it writes names its source: the service, the SKU and the
effective date of the on-demand offer. Sizes priced: every `ec2:`, `rds:` and `elasticache:` key of the bundled
tables, and those given with --size. The prices AWS charges alike in every commercial region (KMS, Secrets Manager,
Route 53, public IPv4, WAF, CloudFront; their `source` starts with `aws:`) and the seed's assumptions for S3 and
CloudWatch (`seed:`) are copied from the ap-south-1 table as they are. A price the API does not return is left out,
so `bizinfra cost` says "not priced" for it rather than guessing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PRICES = Path(__file__).resolve().parents[1] / "src" / "bizinfra" / "data" / "prices"
TEMPLATE = "ap-south-1"  # the table whose `aws:` and `seed:` entries are copied
HOURS_PER_MONTH = 730  # AWS's own convention in its pricing calculator

# Price key -> (service code, filters, unit, per-month rather than per-hour). {size} is the key's part after ":".
QUERIES: dict[str, tuple[str, dict[str, str], str, bool]] = {
    "ec2:": ("AmazonEC2", {"instanceType": "{size}", "operatingSystem": "Linux", "tenancy": "Shared",
                           "preInstalledSw": "NA", "capacitystatus": "Used", "licenseModel": "No License required"},
             "node", False),
    "rds:db.": ("AmazonRDS", {"instanceType": "{size}", "databaseEngine": "PostgreSQL",
                              "deploymentOption": "Single-AZ"}, "instance", False),
    "elasticache:": ("AmazonElastiCache", {"instanceType": "{size}", "cacheEngine": "Redis"}, "node", False),
    "rds:storage-gp3": ("AmazonRDS", {"volumeType": "General Purpose-GP3", "deploymentOption": "Single-AZ",
                                      "databaseEngine": "PostgreSQL"}, "GB", True),
    "ebs:gp3": ("AmazonEC2", {"productFamily": "Storage", "volumeApiName": "gp3"}, "GB", True),
    "eks:cluster": ("AmazonEKS", {"operation": "CreateOperation"}, "cluster", False),
    "vpc:nat-gateway": ("AmazonEC2", {"productFamily": "NAT Gateway", "group": "NGW:NatGateway"}, "NAT gateway", False),
    "elb:application": ("AWSELB", {"productFamily": "Load Balancer-Application", "operation": "LoadBalancing:Application",
                                   "group": "ELB:Balancer"}, "load balancer", False),
}


def query(key: str) -> tuple[str, dict[str, str], str, bool]:
    """The query that prices a key: its own entry, or its family's (`ec2:` for `ec2:t3.large`)."""
    if key in QUERIES:
        return QUERIES[key]
    family = next(prefix for prefix in QUERIES if prefix.endswith((":", ".")) and key.startswith(prefix))
    service, filters, unit, monthly = QUERIES[family]
    size = key.split(":", 1)[1]
    return service, {name: value.format(size=size) for name, value in filters.items()}, unit, monthly


def get_products(service: str, region: str, filters: dict[str, str]) -> list[dict[str, Any]]:
    """Every product the Price List API returns for the filters, as parsed JSON."""
    terms = [f"Type=TERM_MATCH,Field={name},Value={value}" for name, value in {"regionCode": region, **filters}.items()]
    command = ["aws", "pricing", "get-products", "--region", "us-east-1", "--service-code", service, "--output", "json",
               "--filters", *terms]
    answer = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    return [json.loads(item) for item in answer.get("PriceList", [])]


def on_demand_usd(product: dict[str, Any]) -> Iterator[tuple[float, str, str]]:
    """(USD per unit, SKU, effective date) of each first-tier on-demand price of a Price List product."""
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = float(dimension.get("pricePerUnit", {}).get("USD", "0"))
            if usd > 0 and dimension.get("beginRange", "0") == "0":
                yield usd, product["product"]["sku"], term.get("effectiveDate", "")[:10]


def price(key: str, region: str) -> dict[str, Any] | None:
    """A table entry for the key from the API, or None when it returns no single price."""
    service, filters, unit, monthly = query(key)
    found = {found for product in get_products(service, region, filters) for found in on_demand_usd(product)}
    if len({usd for usd, _, _ in found}) != 1:
        print(f"{region} {key}: {len(found)} prices returned, left out", file=sys.stderr)
        return None
    usd, sku, effective = sorted(found)[0]
    source = f"aws-price-list: {service} {region}, SKU {sku}, on-demand, effective {effective}"
    return {"usd_per_month" if monthly else "usd_per_hour": usd, "unit": unit, "source": source}


def table(region: str, sizes: list[str]) -> dict[str, Any]:
    template = json.loads((PRICES / f"{TEMPLATE}.json").read_text(encoding="utf-8"))
    keys = {key for path in PRICES.glob("*.json") for key in json.loads(path.read_text(encoding="utf-8"))["prices"]}
    priced = sorted(key for key in keys | set(sizes) if any(key == q or key.startswith(q) for q in QUERIES))
    prices = {key: entry for key in priced if (entry := price(key, region)) is not None}
    prices |= {key: entry for key, entry in template["prices"].items()
               if entry["source"].startswith(("aws:", "seed: S3", "seed: CloudWatch"))}
    return {"region": region, "currency": "USD", "date": datetime.date.today().isoformat(),
            "hours_per_month": HOURS_PER_MONTH,
            "note": "On-demand list prices from AWS's Price List Query API ('aws-price-list', each with its SKU and "
                    "effective date), no free tier, no data transfer; 'aws' figures are list prices AWS charges alike in "
                    "every commercial region; 'seed' figures are the DevOps guide's assumptions for S3 and CloudWatch.",
            "prices": dict(sorted(prices.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", action="append", required=True, help="an AWS region code, e.g. eu-west-1")
    parser.add_argument("--size", action="append", default=[], help="a price key to add, e.g. ec2:m7i.large")
    args = parser.parse_args()
    for region in args.region:
        path = PRICES / f"{region}.json"
        path.write_text(json.dumps(table(region, args.size), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(PRICES.parents[3])}")


if __name__ == "__main__":
    main()
