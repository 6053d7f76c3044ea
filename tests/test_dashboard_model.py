"""The dashboard loads into Grafana's own dashboard model: grafana-foundation-sdk, whose types are generated from
the schema Grafana itself publishes. Decoding keeps what the model knows and drops the rest, so a key that comes back
missing after a round trip is one Grafana's model does not have (a typo, a field of another version)."""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard
from hypothesis import given

from bizinfra.plan import resolve
from bizinfra.spec.models import Platform
from bizinfra.targets.monitoring.dashboard import dashboard
from tests.strategies import platforms
from tests.support import bundled_plan


def dropped(sent: Any, back: Any, path: str = "") -> list[str]:
    """The key paths of `sent` that are missing from `back`."""
    if isinstance(sent, dict) and isinstance(back, dict):
        return [p for key, value in sent.items()
                for p in ([f"{path}/{key}"] if key not in back else dropped(value, back[key], f"{path}/{key}"))]
    if isinstance(sent, list) and isinstance(back, list):
        return [p for index, (a, b) in enumerate(zip(sent, back, strict=False)) for p in dropped(a, b, f"{path}[{index}]")]
    return []


def round_trip(document: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(Dashboard.from_json(document), cls=JSONEncoder))


@given(platforms(max_services=4))
def test_every_key_of_the_dashboard_is_one_grafanas_model_knows(platform: Platform) -> None:
    plan = resolve(platform, "specs/test.yaml")
    document = dashboard(plan.name, plan.namespace, plan.slo)
    assert dropped(document, round_trip(document)) == []


def test_the_model_check_notices_keys_grafana_does_not_know() -> None:
    plan = bundled_plan()
    document = dashboard(plan.name, plan.namespace, plan.slo)
    document["panels"][0]["gridPosition"] = document["panels"][0]["gridPos"]
    document["templating"]["list"][1]["definition"] = "label_values(service)"
    assert sorted(dropped(document, round_trip(document))) == ["/panels[0]/gridPosition",
                                                               "/templating/list[1]/definition"]
