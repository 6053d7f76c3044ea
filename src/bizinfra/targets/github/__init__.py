"""GitHub Actions target: the platform's CI/CD, database-migration and infrastructure workflows."""

from bizinfra.artifacts import Artifact, yaml_file
from bizinfra.plan import PlatformPlan
from bizinfra.targets.github.infrastructure import infrastructure
from bizinfra.targets.github.workflows import ci_cd, database_migration, migrated_services

__all__ = ["compile_github"]


def compile_github(plan: PlatformPlan) -> list[Artifact]:
    folder = "github/workflows"
    artifacts = [yaml_file(f"{folder}/ci-cd.yml", ci_cd(plan)),
                 yaml_file(f"{folder}/infrastructure.yml", infrastructure(plan))]
    if migrated_services(plan):
        artifacts.append(yaml_file(f"{folder}/database-migration.yml", database_migration(plan)))
    return artifacts
