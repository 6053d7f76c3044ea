"""Running the terraform CLI offline: the local provider mirror, and the CLI configuration that installs from it
only, sharing one plugin cache so the provider is unpacked once per run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import optional_tool


def provider_mirror() -> Path | None:
    """A local filesystem mirror holding hashicorp/aws: $TF_PROVIDER_MIRROR, one of the directories Terraform
    itself searches (CLI configuration docs, "Implied Local Mirror Directories"), or one directly under /opt."""
    given = [Path(os.environ["TF_PROVIDER_MIRROR"])] if os.environ.get("TF_PROVIDER_MIRROR") else []
    implied = [Path.home() / ".terraform.d" / "plugins", Path.home() / ".local/share/terraform/plugins",
               Path("/usr/local/share/terraform/plugins"), Path("/usr/share/terraform/plugins")]
    under_opt = sorted(p.parent.parent.parent for p in Path("/opt").glob("*/registry.terraform.io/hashicorp/aws"))
    return next((root for root in [*given, *implied, *under_opt]
                 if (root / "registry.terraform.io" / "hashicorp" / "aws").is_dir()), None)


def offline_terraform(config_folder: Path, plugin_cache: Path, why: str) -> tuple[str, dict[str, str]]:
    """The terraform CLI and the environment that installs providers from the local mirror only, with its CLI
    configuration written in `config_folder`; skips (saying `why` the mirror was needed) when either is missing."""
    terraform, mirror = optional_tool("terraform"), provider_mirror()
    if mirror is None:
        pytest.skip(f"{why} needs a local mirror of hashicorp/aws (optional: this machine has none)")
    rc = config_folder / "cli.tfrc"
    rc.write_text(f'plugin_cache_dir = "{plugin_cache}"\nplugin_cache_may_break_dependency_lock_file = true\n'
                  f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n')
    return terraform, {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1",
                       "CHECKPOINT_DISABLE": "1"}
