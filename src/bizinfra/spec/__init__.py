"""The spec language and its loader."""

from bizinfra.spec.loader import SpecError, load_platform, load_specs
from bizinfra.spec.models import Platform

__all__ = ["Platform", "SpecError", "load_platform", "load_specs"]
