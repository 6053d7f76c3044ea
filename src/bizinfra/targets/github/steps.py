"""The smallest pieces of a workflow: a document, a step that runs a script, and its time limit."""

from __future__ import annotations

import math
from typing import Any

Document = dict[str, Any]

# A step of a few quick calls: if one hangs, the step fails at this limit (and a restore on failure() runs), rather
# than the job at its own.
QUICK_MINUTES = 2


def minutes_for(seconds: int) -> int:
    """A step's `timeout-minutes` for the worst case of its waits, plus a minute for its quick calls."""
    return max(QUICK_MINUTES, math.ceil(seconds / 60) + 1)


def within(seconds: int) -> dict[str, int]:
    """A step's own time limit, `**within(seconds)`, from the seconds its waits may take at worst."""
    return {"timeout-minutes": minutes_for(seconds)}


def script(name: str, run: str, env: dict[str, str] | None = None, **extra: Any) -> Document:
    return {"name": name, **extra, **({"env": env} if env else {}), "run": run}


def time_limited(steps: list[Document]) -> list[Document]:
    """Every step with its own time limit: a step that states none is one of quick calls."""
    return [step if "timeout-minutes" in step else {**step, "timeout-minutes": QUICK_MINUTES} for step in steps]


def worst_case_minutes(steps: list[Document]) -> int:
    """What the steps may take together, each at its limit: every step runs at most once, the restore included."""
    return sum(int(step["timeout-minutes"]) for step in steps)
