"""Kept only for tests/test_cost.py until it imports from tests.support: `BUNDLED` is `tests.support.BUNDLED_SPEC`."""

from tests.support import BUNDLED_SPEC as BUNDLED
from tests.support import bundled_platform, plan_of

__all__ = ["BUNDLED", "bundled_platform", "plan_of"]
