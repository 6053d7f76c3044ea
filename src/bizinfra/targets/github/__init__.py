"""GitHub Actions target: the platform's CI/CD, database-migration and drift-check workflows."""

from bizinfra.targets.github.workflows import compile_github

__all__ = ["compile_github"]
