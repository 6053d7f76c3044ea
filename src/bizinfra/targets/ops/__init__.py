"""Operations target: the runbook scripts and the architecture diagram."""

from __future__ import annotations

from bizinfra.artifacts import Artifact, text_file
from bizinfra.plan import PlatformPlan
from bizinfra.targets.ops.architecture import architecture_markdown
from bizinfra.targets.ops.scripts import backup_script, debug_script, rollback_script


def compile_ops(plan: PlatformPlan) -> list[Artifact]:
    artifacts = [text_file("docs/architecture.md", architecture_markdown(plan), comment="<!-- {} -->")]
    clusters = plan.on("kubernetes")
    if clusters:
        artifacts.append(text_file("scripts/rollback.sh", rollback_script(clusters)))
    if any(env.datastores for env in clusters):
        artifacts.append(text_file("scripts/debug-db.sh", debug_script(clusters)))
    if any(store.databases for env in clusters for store in env.datastores):
        artifacts.append(text_file("scripts/db-backup.sh", backup_script(clusters)))
    return artifacts


__all__ = ["compile_ops"]
