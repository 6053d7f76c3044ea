"""bizinfra as a library: one entry point that builds what `generate` writes, a help text that reads as a
manual, and an import that costs only what is used."""

from __future__ import annotations

import inspect
import pydoc
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bizinfra
from bizinfra.cli import main
from tests.support import ROOT, tree

README = (ROOT / "README.md").read_text()
PATCH = """
patches:
  - file: kubernetes/production/configmaps.yaml
    select: {kind: ConfigMap, name: storefront-config}
    ops:
      - {op: add, path: /data/FEATURE_FLAGS, value: checkout-v2}
"""


def readme_library_example() -> str:
    section = README.split("## Use it as a library", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return block


def test_the_readme_library_example_builds_the_bytes_generate_writes_patches_included(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".git").mkdir()  # a repository root, where generate names specs as the example does
    shop = project / "specs" / "shop.yaml"
    shop.write_text(shop.read_text() + PATCH)
    example: dict[str, object] = {}

    exec(readme_library_example(), example)  # the README's own code

    built = example["tree"]
    assert isinstance(built, bizinfra.Tree)
    assert main(["generate"]) == 0
    written = {path: content for path, content in tree(project / "generated").items()
               if path != ".bizinfra-manifest"}
    assert built.files == written
    assert b"FEATURE_FLAGS: checkout-v2" in built.files["shop/kubernetes/production/configmaps.yaml"]
    assert "shop/kubernetes/production/configmaps.yaml" in capsys.readouterr().out


def test_build_takes_a_spec_held_as_text_and_scans_it_for_secrets() -> None:
    text = "name: shop\ndomain: shop.example.com\nservices:\n  web: {port: 8080, env: {SMTP_PASS: hunter2hunter2}}\n"
    spec = bizinfra.parse_spec(text, "specs/shop.yaml")
    with pytest.raises(bizinfra.SpecError) as error:
        bizinfra.build([spec])
    assert any(problem.path == "services.web.env.SMTP_PASS" for problem in error.value.problems)


def test_build_narrows_to_targets_and_environments_with_their_dependents() -> None:
    built = bizinfra.build(ROOT / "specs" / "shop.yaml", targets=["monitoring"], environments=["production"])
    # ops: the runbook pages, platform-wide files; terraform: Alertmanager's routing in the add-ons stack; cost: its
    # estimate of terraform's documents
    assert built.targets == {"monitoring", "kubernetes", "ops", "terraform", "cost"}
    assert {owner.target for owner in built.owners.values()} == {"monitoring", "kubernetes", "terraform"}
    assert {owner.environment for owner in built.owners.values()} == {"production"}


def test_help_reads_as_a_manual_with_every_public_name_documented() -> None:
    manual = pydoc.render_doc(bizinfra, renderer=pydoc.plaintext)
    assert "bizinfra.build(" in manual and "Run the whole pipeline as `bizinfra generate` does" in manual
    undocumented = [name for name in bizinfra.__all__ if not name.startswith("_")
                    and (inspect.isclass(getattr(bizinfra, name)) or callable(getattr(bizinfra, name)))
                    and not inspect.getdoc(getattr(bizinfra, name))]
    assert undocumented == []


@pytest.mark.parametrize("command", [["-c", "import bizinfra"], ["-m", "bizinfra", "--version"]])
def test_starting_up_imports_neither_pydantic_nor_yaml(command: list[str]) -> None:
    """What a pre-commit hook pays before any work: the spec models and YAML come when a command needs them."""
    result = subprocess.run([sys.executable, "-X", "importtime", *command], capture_output=True, text=True,
                            check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert not {name for name in imported if name.split(".")[0] in ("pydantic", "yaml")}
