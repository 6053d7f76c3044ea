"""The full tier's order: each of the longest tests heads a worker's share of the collection, as worksteal splits it."""

from __future__ import annotations

from tests.support.schedule import longest_first

LONGEST = ("t/a.py::", "t/b.py::long", "t/c.py::")


def shares(order: list[str], workers: int) -> list[list[str]]:
    """The split of xdist's worksteal scheduler: each idle worker in turn takes an even part of what is left."""
    split, left = [], list(order)
    for share in range(workers):
        size = len(left) // (workers - share)
        split.append(left[:size])
        left = left[size:]
    return split


def test_each_long_test_heads_its_own_share_and_the_rest_keep_their_order() -> None:
    ids = [f"t/b.py::short{n}" for n in range(8)] + ["t/b.py::long", "t/c.py::x", "t/a.py::y", "t/d.py::z"]
    order = longest_first(ids, ids, 3, LONGEST)
    assert sorted(order) == sorted(ids)
    assert [share[0] for share in shares(order, 3)] == ["t/a.py::y", "t/b.py::long", "t/c.py::x"]
    assert [i for i in order if i not in ("t/a.py::y", "t/b.py::long", "t/c.py::x")] == \
        [i for i in ids if i not in ("t/a.py::y", "t/b.py::long", "t/c.py::x")]


def test_more_long_tests_than_workers_take_turns_and_one_worker_runs_them_first() -> None:
    ids = [f"t/d.py::{n}" for n in range(10)] + ["t/c.py::1", "t/c.py::2", "t/a.py::1"]
    two = shares(longest_first(ids, ids, 2, LONGEST), 2)
    assert [share[:2] for share in two] == [["t/a.py::1", "t/c.py::2"], ["t/c.py::1", "t/d.py::4"]]
    assert longest_first(ids, ids, 1, LONGEST)[:3] == ["t/a.py::1", "t/c.py::1", "t/c.py::2"]
