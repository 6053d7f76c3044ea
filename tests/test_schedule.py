"""The full tier's order: the longest tests head the workers' shares of the collection, as worksteal splits it."""

from __future__ import annotations

from tests.support.schedule import LONGEST, longest_first

LONG = (("t/a.py::", 100), ("t/b.py::long", 60), ("t/c.py::", 50))


def shares(order: list[str], workers: int) -> list[list[str]]:
    """The split of xdist's worksteal scheduler: each idle worker in turn takes an even part of what is left."""
    split, left = [], list(order)
    for share in range(workers):
        size = len(left) // (workers - share)
        split.append(left[:size])
        left = left[size:]
    return split


def test_each_long_test_heads_a_share_and_the_rest_keep_their_order() -> None:
    ids = [f"t/b.py::short{n}" for n in range(8)] + ["t/b.py::long", "t/c.py::x", "t/a.py::y", "t/d.py::z"]
    order = longest_first(ids, ids, 3, LONG)
    assert sorted(order) == sorted(ids)
    assert [share[0] for share in shares(order, 3)] == ["t/a.py::y", "t/b.py::long", "t/c.py::x"]
    long = {"t/a.py::y", "t/b.py::long", "t/c.py::x"}
    assert [i for i in order if i not in long] == [i for i in ids if i not in long]


def test_more_long_tests_than_workers_go_to_the_share_with_the_least_long_work() -> None:
    ids = [f"t/d.py::{n}" for n in range(10)] + ["t/c.py::1", "t/c.py::2", "t/b.py::long", "t/a.py::1"]
    two = shares(longest_first(ids, ids, 2, LONG), 2)
    # a (100) alone; b (60) then c (50) on the other share, which has less until it passes 100; then c again.
    assert [share[:3] for share in two] == [["t/a.py::1", "t/c.py::2", "t/d.py::0"],
                                            ["t/b.py::long", "t/c.py::1", "t/d.py::5"]]
    assert longest_first(ids, ids, 1, LONG)[:4] == ["t/a.py::1", "t/b.py::long", "t/c.py::1", "t/c.py::2"]


def test_the_terraform_apply_starts_first_on_a_share_of_its_own() -> None:
    ids = ["tests/test_a.py::x", "tests/test_terraform_apply.py::test_every",
           *(f"tests/test_z.py::{n}" for n in range(30))]
    first = shares(longest_first(ids, ids, 3), 3)[0]
    assert first[0] == "tests/test_terraform_apply.py::test_every"
    assert LONGEST[0][0] == "tests/test_terraform_apply.py::" and LONGEST[0][1] == max(s for _, s in LONGEST)
