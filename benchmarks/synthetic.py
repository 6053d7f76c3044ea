"""Synthetic platforms of N services for the speed benchmark.

Realistic shape: a few public gateways call a layer of domain services, which call a few
shared services; a third use PostgreSQL, a quarter Redis; three environments. Seeded, so the
same N always gives the same spec.
"""

from __future__ import annotations

import random
from typing import Any


def synthetic_spec(services: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed * 100_003 + services)
    names = [f"svc-{index:04d}" for index in range(services)]
    gateways = names[: max(1, services // 50)]
    shared = names[-max(1, services // 20):]
    spec_services: dict[str, Any] = {}
    for index, name in enumerate(names):
        service: dict[str, Any] = {"port": 10_000 + index}
        if name in gateways:
            service["public"] = {"host": f"{name}.bench.example.com"}
            service["replicas"] = {"min": 3, "max": 12}
            service["calls"] = rng.sample([n for n in names if n not in gateways], k=min(4, services - len(gateways)))
        elif name not in shared:
            service["calls"] = rng.sample(shared, k=min(2, len(shared)))
        uses = [store for store, share in (("postgres", 3), ("redis", 4)) if rng.randrange(share) == 0]
        if uses:
            service["uses"] = uses
        if rng.randrange(5) == 0:
            service["secrets"] = ["SIGNING_KEY"]
        spec_services[name] = service
    return {
        "name": f"bench{services}",
        "domain": "bench.example.com",
        "region": "ap-south-1",
        "network": {"cidr": "10.0.0.0/16", "zones": 3},
        "services": spec_services,
        "datastores": {"postgres": {"engine": "postgres", "version": "16"},
                       "redis": {"engine": "redis", "version": "7"}},
        "environments": {
            "development": {"runs_on": "compose"},
            # Enough t3.medium (9 pods beside the DaemonSets) for a release's peak, which the loader checks.
            "staging": {"branch": "develop", "nodes": {"min": 2, "max": max(6, services)}},
            "production": {"branch": "main", "nodes": {"min": 3, "max": max(30, services)}, "highly_available": True,
                           "rollout": "blue-green"},
        },
    }
