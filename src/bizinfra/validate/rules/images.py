"""Rule `images are pinned`: what runs is what was reviewed."""

from __future__ import annotations

from bizinfra.validate.rules.documents import all_containers, name_of
from bizinfra.validate.rules.platform_files import PlatformFiles, Problem


def images_are_pinned(p: PlatformFiles) -> list[Problem]:
    """Every container of a Deployment or Job, init containers included, names its image with a tag that is not
    `latest` (a Deployment's is the placeholder a release replaces)."""
    problems = []
    for env in p.environments("kubernetes"):
        for file, workload in p.workloads(env):
            for container in all_containers(workload):
                image = str(container.get("image", ""))
                if not _pinned(image):
                    problems.append(Problem(p.where(file), name_of(workload), f"container {container.get('name')} "
                                                                              f"runs '{image}', not a pinned tag"))
    return problems


def _pinned(image: str) -> bool:
    """`name:tag` with a tag other than `latest` (a colon in a registry host's port is not a tag)."""
    name, colon, tag = image.rpartition(":")
    return bool(colon and name and tag and "/" not in tag) and tag != "latest"
