"""The cost target: docs/cost.md, the monthly estimate of each environment, priced from the Terraform the
terraform target compiled (it owns every priced resource, the load balancer included)."""

from __future__ import annotations

from collections.abc import Sequence

from bizinfra.artifacts import Artifact, text_file
from bizinfra.cost import cost_markdown, estimate_plan
from bizinfra.plan import PlatformPlan


def compile_cost(plan: PlatformPlan, terraform: Sequence[Artifact]) -> list[Artifact]:
    """docs/cost.md for the plan, from the terraform target's artifacts for that plan."""
    reports, prices, missing = estimate_plan(plan, terraform)
    return [text_file("docs/cost.md", cost_markdown(plan, reports, prices, missing), comment="<!-- {} -->")]
