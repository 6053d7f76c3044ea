"""The order the full tier runs in: its longest tests first, each at the head of its own worker's share.

`--dist worksteal` (pyproject) splits the collection into one contiguous share per worker, in order, and lets a worker
that runs out steal the second half of the longest queue. A test of minutes collected late starts late and the run
waits for it; two of them in one share run one after the other. Put at the head of the shares, in turn, each starts
at once on a worker of its own while the other workers take the short tests off its queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

# Node id prefixes of the tests that take minutes, longest first (`pytest --durations`, on 2 cores).
LONGEST = (
    "tests/test_terraform_apply.py::",  # every bundled stack against moto: ~10 min
    "tests/test_alerting_e2e.py::",  # real Prometheus and Alertmanager, waiting out ServiceDown's `for:`
    "tests/test_deploy_job.py::test_every_failure_and_cancellation",  # a job run per failure injected
    "tests/test_terraform.py::test_checkov_passes_each_stack",  # checkov over every stack
    "tests/test_terraform.py::test_random_platforms_pass_checkov",
)

Item = TypeVar("Item")


def longest_first(items: Sequence[Item], node_ids: Sequence[str], workers: int,
                  longest: Sequence[str] = LONGEST) -> list[Item]:
    """`items` reordered so that, split as worksteal splits them among `workers`, the longest tests head the shares
    in turn (the first on the first share, the second on the second...); every other test keeps its order."""
    heads = [index for prefix in longest for index, node_id in enumerate(node_ids) if node_id.startswith(prefix)]
    heads = list(dict.fromkeys(heads))
    placed = set(heads)
    rest = iter(index for index in range(len(items)) if index not in placed)
    workers = max(1, workers)
    order: list[int] = []
    remaining = len(items)
    for share in range(workers):
        size = remaining // (workers - share)  # worksteal's split: xdist/scheduler/worksteal.py, check_schedule
        remaining -= size
        own = heads[share::workers]
        order += own + [next(rest) for _ in range(max(0, size - len(own)))]
    order += list(rest)
    return [items[index] for index in order]
