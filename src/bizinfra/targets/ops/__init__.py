"""Operations target: the runbook scripts, a runbook page per alert, the logs page, the architecture diagram, and the
recovery runbooks with their restore drill."""

from __future__ import annotations

from bizinfra.artifacts import Artifact, text_file
from bizinfra.plan import PlatformPlan
from bizinfra.targets.ops.architecture import architecture_markdown
from bizinfra.targets.ops.logs import LOGS_PAGE, logs_page
from bizinfra.targets.ops.recovery import recovery_artifacts
from bizinfra.targets.ops.runbooks import DEBUG_DB, ROLLBACK, runbook_pages
from bizinfra.targets.ops.scripts import backup_script, debug_script, rollback_script


def compile_ops(plan: PlatformPlan) -> list[Artifact]:
    artifacts = [text_file("docs/architecture.md", architecture_markdown(plan), comment="<!-- {} -->")]
    clusters = plan.on("kubernetes")
    if clusters:
        artifacts.append(text_file(ROLLBACK, rollback_script(clusters)))
        artifacts.append(text_file(LOGS_PAGE, logs_page(plan), comment="<!-- {} -->"))
    if any(env.datastores for env in clusters):
        artifacts.append(text_file(DEBUG_DB, debug_script(clusters)))
    if any(store.databases for env in clusters for store in env.datastores):
        artifacts.append(text_file("scripts/db-backup.sh", backup_script(clusters)))
    artifacts += [text_file(path, text, comment="<!-- {} -->") for path, text in runbook_pages(plan).items()]
    artifacts += [text_file(path, text, comment="# {}" if path.endswith(".sh") else "<!-- {} -->")
                  for path, text in recovery_artifacts(plan).items()]
    return artifacts


__all__ = ["compile_ops"]
