"""Load the bundled spec, compile it in memory and look at what came out, without writing a file."""

from pathlib import Path

import bizinfra

SPEC = Path(__file__).resolve().parent.parent / "specs" / "business-app.yaml"

spec = bizinfra.load(SPEC)[0]
plan = bizinfra.resolve(spec.platform, "specs/business-app.yaml")

for env in plan.environments:
    print(f"{env.name}: runs on {env.runs_on}, {len(env.services)} services")
    for service in env.services:
        print(f"  {service.name:<20} port {service.port}  replicas {service.replicas.min}..{service.replicas.max}")

artifacts = bizinfra.compile_plan(plan)
print(f"{len(artifacts)} files, {sum(len(bizinfra.render(a, spec.source)) for a in artifacts)} bytes")
