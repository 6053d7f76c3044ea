"""The order the full tier runs in: its longest tests first, at the heads of the workers' shares.

`--dist worksteal` (pyproject) splits the collection into one contiguous share per worker, in order, and lets a worker
that runs out steal the second half of the longest queue. A test of minutes collected late starts late and the run
waits for it; two of them in one share run one after the other. Put at the heads of the shares, longest first and
balanced, they start at once while the other workers take the short tests off their queues."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

# Node id prefixes of the tests that take minutes, with the seconds each took in a full run on 2 cores under load
# (`pytest --durations=60`, 2026-12-03; terraform apply from its own runs): what matters is their order.
LONGEST: tuple[tuple[str, int], ...] = (
    ("tests/test_terraform_apply.py::", 1200),  # every bundled stack against moto
    ("tests/test_validate.py::test_the_bundled_specs_pass_every_validator_with_every_tool", 610),
    ("tests/test_validate.py::test_each_deliberate_breakage_is_one_clear_line", 470),
    ("tests/test_alerting_e2e.py::", 260),  # waits out ServiceDown's `for:`
    ("tests/test_deploy_job.py::test_a_failed_blue_green_release_leaves_traffic_on_the_old_slot", 280),
    ("tests/test_deploy_job.py::test_a_failure_at_any_kubectl_call_stops_the_job", 230),
    ("tests/test_accepted_specs.py::test_every_accepted_spec_passes_every_judge", 205),
    ("tests/test_terraform.py::test_random_platforms_pass_checkov", 200),
    ("tests/test_monitoring.py::test_bundled_rules_pass_promtool_check_and_their_unit_tests", 120),
    ("tests/test_cli.py::test_the_header_names_the_spec_the_same_from_any_working_folder", 120),
    ("tests/test_migrations.py::test_a_failed_migration_stops_the_deploy_before_traffic_moves", 115),
    ("tests/test_kubernetes.py::test_kubernetes_validate_and_the_crd_schemas_accept_every_object", 110),
    ("tests/test_terraform.py::test_checkov_passes_each_stack", 100),
)

Item = TypeVar("Item")


def longest_first(items: Sequence[Item], node_ids: Sequence[str], workers: int,
                  longest: Sequence[tuple[str, int]] = LONGEST) -> list[Item]:
    """`items` reordered so that, split as worksteal splits them among `workers`, the longest tests head the shares:
    longest first, each on the share whose long tests add up to the least so far (a worker runs the head of its
    share in order; the others can take only from the tail). Every other test keeps its order."""
    workers = max(1, workers)
    heads: list[list[int]] = [[] for _ in range(workers)]
    load = [0] * workers
    placed: set[int] = set()
    for prefix, seconds in sorted(longest, key=lambda pair: -pair[1]):
        for index, node_id in enumerate(node_ids):
            if node_id.startswith(prefix) and index not in placed:
                share = load.index(min(load))
                heads[share].append(index)
                load[share] += seconds
                placed.add(index)
    rest = iter(index for index in range(len(items)) if index not in placed)
    order: list[int] = []
    remaining = len(items)
    for share in range(workers):
        size = remaining // (workers - share)  # worksteal's split: xdist/scheduler/worksteal.py, check_schedule
        remaining -= size
        order += heads[share] + [next(rest) for _ in range(max(0, size - len(heads[share])))]
    order += list(rest)
    return [items[index] for index in order]
