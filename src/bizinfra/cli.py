"""The command line. Exit codes: 0 ok, 1 drift or failed validation, 2 bad input or usage."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bizinfra import __version__

if TYPE_CHECKING:
    from bizinfra.pipeline import Tree

OK, DRIFT, BAD_INPUT = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except _BadInput as error:
        print(error, file=sys.stderr)
        return BAD_INPUT


def run() -> None:
    """The command's entry point: a process of its own."""
    gc.disable()  # a short run that builds many small, acyclic dicts: collecting them costs a quarter of its time
    sys.exit(main())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bizinfra",
        description="Compile one description of a business application into the files that run it.",
    )
    parser.add_argument("--version", action="version", version=f"bizinfra {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    generate = commands.add_parser("generate", help="write the generated files for every spec")
    _add_spec_and_out(generate)
    generate.add_argument("--target", action="append", choices=_target_names(), metavar="NAME",
                          help=f"build only this target (repeatable): {', '.join(_target_names())}")
    generate.add_argument("--env", action="append", metavar="NAME",
                          help="build only this environment's files (repeatable); platform-wide files are left as they are")
    generate.set_defaults(run=_generate)

    check = commands.add_parser("check", help="exit 1 with a diff when the generated files are not current")
    _add_spec_and_out(check)
    check.set_defaults(run=_check)

    diff = commands.add_parser("diff", help="what a spec change does, per target and object (reports; exit 0)")
    _add_spec_and_out(diff)
    against = diff.add_mutually_exclusive_group()
    against.add_argument("--against", metavar="REV", help="compare with what the spec at this git revision generates")
    against.add_argument("--from", dest="from_dir", type=Path, metavar="DIR",
                         help="compare this generated folder (before) with --out (after)")
    diff.add_argument("--format", choices=["text", "markdown"], default="text", help="text (default) or markdown")
    diff.set_defaults(run=_diff)

    cost = commands.add_parser("cost", help="print the monthly cost estimate of each environment")
    cost.add_argument("--spec", type=Path, default=Path("specs"),
                      help="a spec file, or a folder of *.yaml specs (default: specs/)")
    cost.add_argument("--env", help="only this environment (default: every environment)")
    cost.set_defaults(run=_cost)

    validate = commands.add_parser("validate", help="judge the generated files with every offline validator and the "
                                                    "cross-target invariants")
    validate.add_argument("--out", type=Path, default=Path("generated"),
                          help="the folder of generated files to judge (default: generated/)")
    validate.add_argument("--require-all", action="store_true",
                          help="a validator whose tool is not installed fails the run (use it in CI)")
    validate.set_defaults(run=_validate)

    init = commands.add_parser("init", help="write a starting spec for the application repository, from what it holds")
    init.add_argument("--repo", type=Path, default=Path("."), help="the application's repository (default: .)")
    init.add_argument("--out", type=Path, help="the spec to write (default: <repo>/specs/<name>.yaml); never overwritten")
    init.add_argument("--name", help="the platform's name (default: from package.json, else the folder's name)")
    init.add_argument("--domain", help="its DNS domain (default: <name>.example.com, a placeholder)")
    init.set_defaults(run=_init)

    doctor = commands.add_parser("doctor", help="check the application repository holds what the spec's CI and "
                                                "Dockerfile need (exit 1 on any problem)")
    doctor.add_argument("--repo", type=Path, default=Path("."), help="the application's repository (default: .)")
    doctor.add_argument("--spec", type=Path, help="a spec file, or a folder of *.yaml specs (default: <repo>/specs/)")
    doctor.set_defaults(run=_doctor)

    schema = commands.add_parser("schema", help="print the JSON Schema of the spec language, for editors")
    schema.set_defaults(run=_schema)
    return parser


def _add_spec_and_out(command: argparse.ArgumentParser) -> None:
    command.add_argument("--spec", type=Path, default=Path("specs"),
                         help="a spec file, or a folder of *.yaml specs (default: specs/)")
    command.add_argument("--out", type=Path, default=Path("generated"),
                         help="the folder generated files go to (default: generated/)")


class _BadInput(Exception):
    pass


def _target_names() -> list[str]:
    from bizinfra.targets import TARGETS

    return list(TARGETS)


def _build(spec: Path, out: Path, targets: list[str] | None = None, environments: list[str] | None = None) -> Tree:
    from bizinfra.pipeline import build_tree
    from bizinfra.spec.loader import SpecError, load_specs
    from bizinfra.targets import TARGETS

    try:
        specs = load_specs(spec, shown_as=_shown(spec))
        root = _repository_root(out)
        named = {_header_name(_spec_file(spec, loaded.source), root): loaded for loaded in specs}
        try:
            return build_tree([dataclasses.replace(loaded, source=name) for name, loaded in named.items()],
                              targets or TARGETS, environments)
        except SpecError as error:  # name the spec in messages as the user typed it, not as headers do
            raise SpecError([dataclasses.replace(problem, file=named[problem.file].source)
                             if problem.file in named else problem for problem in error.problems]) from None
    except SpecError as error:
        count = len(error.problems)
        raise _BadInput(f"{error}\n{count} problem{'s' if count != 1 else ''} in the spec; nothing was written.") from None


def _generate(args: argparse.Namespace) -> int:
    from bizinfra.writer import NotOwnedError, Scope, UnsafePathError, WriteError, write_tree

    tree = _build(args.spec, args.out, args.target, args.env)
    scope = None
    if args.target or args.env:
        scope = Scope(tree.targets, frozenset(args.env) if args.env else None)  # with the targets that read them
    try:
        report = write_tree(args.out, tree.files, tree.owners, scope)
    except (NotOwnedError, UnsafePathError) as error:
        raise _BadInput(f"{error}\nnothing was written.") from None
    except WriteError as error:  # its message says what changed
        raise _BadInput(str(error)) from None
    except OSError as error:  # not expected: the writer reports its own failures; claim nothing about the disk
        raise _BadInput(f"cannot write {args.out}: {error.strerror or error}") from None
    print(f"{args.out}: {len(report.written)} written, {len(report.unchanged)} unchanged, "
          f"{len(report.removed)} removed")
    return OK


def _check(args: argparse.Namespace) -> int:
    from bizinfra.writer import UnsafePathError, check_tree

    tree = _build(args.spec, args.out)
    try:
        drift = check_tree(args.out, tree.files, tree.owners)
    except UnsafePathError as error:
        raise _BadInput(str(error)) from None
    except OSError as error:
        raise _BadInput(f"cannot read {error.filename or args.out}: {error.strerror or error}") from None
    if not drift:
        print(f"{args.out}: up to date")
        return OK
    for item in drift:
        print(item, end="" if item.kind == "modified" else "\n")
    print(f"{args.out}: {len(drift)} file{'s' if len(drift) != 1 else ''} out of date; "
          "run `python -m bizinfra generate`", file=sys.stderr)
    return DRIFT


def _diff(args: argparse.Namespace) -> int:
    """Before: the --out folder on disk, the spec at --against REV, or the --from folder. After: the spec now, or
    for --from the --out folder."""
    import tempfile

    from bizinfra import diff
    from bizinfra.diff_sources import SourceError, read_generated, specs_at

    try:
        if args.from_dir is not None:
            old, new = read_generated(args.from_dir), read_generated(args.out)
        elif args.against is not None:
            new = _build(args.spec, args.out).files
            with tempfile.TemporaryDirectory(prefix="bizinfra-diff-") as folder:
                spec = specs_at(args.against, args.spec, Path(folder))
                try:  # an output folder inside the copy, so the copy's root names the spec in headers
                    old = _build(spec, Path(folder) / "generated").files
                except _BadInput as error:
                    raise _BadInput(f"bizinfra diff: the spec at {args.against}:\n{error}") from None
        else:
            old, new = read_generated(args.out), _build(args.spec, args.out).files
    except (SourceError, OSError) as error:
        raise _BadInput(f"bizinfra diff: {error}") from None
    found = diff.changes(old, new)
    sys.stdout.write(diff.markdown(found) if args.format == "markdown" else diff.text(found))
    return OK


def _cost(args: argparse.Namespace) -> int:
    from bizinfra.cost import estimate_plan, report_table
    from bizinfra.plan import resolve
    from bizinfra.spec.loader import SpecError, load_specs
    from bizinfra.targets import TARGETS, compile_plan

    try:
        plans = [resolve(spec.platform, spec.source) for spec in load_specs(args.spec, shown_as=_shown(args.spec))]
    except SpecError as error:
        raise _BadInput(f"{error}\nthe spec has problems; nothing was estimated.") from None
    if "terraform" not in TARGETS:
        raise _BadInput("bizinfra cost: no Terraform target is registered, so there is nothing to price")
    known = sorted({env.name for plan in plans for env in plan.environments})
    if args.env is not None and args.env not in known:
        raise _BadInput(f"bizinfra cost: no environment '{args.env}'; one of: {', '.join(known)}")
    for plan in plans:
        reports, prices, missing = estimate_plan(plan, compile_plan(plan, ["terraform"]))
        for env in plan.environments:
            if args.env not in (None, env.name):
                continue
            print(f"{plan.name} / {env.name}")
            if env.runs_on == "compose":
                print("  docker compose on a laptop: no AWS resources\n")
            elif env.name in reports:
                print("\n".join(report_table(reports[env.name])) + "\n")
            else:
                print(f"  {missing}\n")
        if prices is not None:
            print(f"{plan.name}: {prices.region} prices of {prices.date}; see docs/cost.md for each price's source")
    return OK


def _validate(args: argparse.Namespace) -> int:
    try:
        from bizinfra.validate.tree import summary, validate
    except ImportError as error:  # the judges come with an extra, not with the core install
        raise _BadInput(f"bizinfra validate needs its judges ({error.name} is not installed): "
                        "pip install 'bizinfra[validate]'") from None

    if not args.out.is_dir() or not any(p.is_file() for p in args.out.rglob("*")):
        raise _BadInput(f"bizinfra validate: {args.out} holds no generated files; run `python -m bizinfra generate`")
    checks = validate(args.out)
    for check in checks:
        for problem in check.problems:
            print(problem)
    for line in summary(checks):
        print(line)
    not_run = [check.name for check in checks if check.status == "not run"]
    if any(check.problems for check in checks):
        return DRIFT
    if not_run and args.require_all:
        print(f"--require-all: not run: {', '.join(not_run)}", file=sys.stderr)
        return DRIFT
    return OK


def _schema(args: argparse.Namespace) -> int:
    from bizinfra.spec.schema import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
    return OK


def _init(args: argparse.Namespace) -> int:
    from bizinfra.scaffold import InitError, detect, read_repository, report
    from bizinfra.spec.loader import SpecError, parse_spec

    try:
        guess = detect(read_repository(args.repo), args.repo.resolve().name, args.name, args.domain)
    except (InitError, OSError) as error:
        raise _BadInput(f"bizinfra init: {error}; nothing was written") from None
    out: Path = args.out or args.repo / "specs" / f"{guess.name}.yaml"
    try:  # the spec must load as written: a failure here is bizinfra's bug, never a file left to fix
        parse_spec(guess.text, _shown(out))
    except SpecError as error:
        raise _BadInput(f"{error}\nbizinfra init: the spec it made does not load; nothing was written") from None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("x", encoding="utf-8") as file:  # "x": an existing spec is never replaced
            file.write(guess.text)
    except FileExistsError:
        raise _BadInput(f"bizinfra init: {out} exists; nothing was written (--out to choose another file)") from None
    except OSError as error:
        raise _BadInput(f"bizinfra init: cannot write {out}: {error.strerror or error}") from None
    print(report(guess, _shown(out)))
    print(_write_requirements(args.repo))
    return OK


def _write_requirements(repo: Path) -> str:
    """requirements-bizinfra.txt, unless the repository has one: where CI installs this bizinfra from."""
    from importlib import metadata

    from bizinfra.naming import BIZINFRA_REQUIREMENTS
    from bizinfra.scaffold import bizinfra_requirement, requirements_text

    path = repo / BIZINFRA_REQUIREMENTS
    try:
        record = metadata.distribution("bizinfra").read_text("direct_url.json")
    except metadata.PackageNotFoundError:  # run from a source folder: as local as an editable install
        record = json.dumps({"dir_info": {}})
    requirement = bizinfra_requirement(json.loads(record) if record else None, __version__)
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(requirements_text(requirement))
    except FileExistsError:
        return f"kept {BIZINFRA_REQUIREMENTS}: bizinfra doctor checks it"
    except OSError as error:
        raise _BadInput(f"bizinfra init: cannot write {path}: {error.strerror or error}") from None
    if requirement is None:
        return (f"wrote {BIZINFRA_REQUIREMENTS} without a requirement. check: this bizinfra was installed from "
                "where CI cannot reach (a local folder, git over ssh): name where it is published there")
    return f"wrote {BIZINFRA_REQUIREMENTS}: CI installs {requirement}"


def _doctor(args: argparse.Namespace) -> int:
    from bizinfra.doctor import diagnose
    from bizinfra.spec.loader import SpecError, load_specs

    if not args.repo.is_dir():
        raise _BadInput(f"bizinfra doctor: {args.repo}: no such folder")
    spec = args.spec or args.repo / "specs"
    try:
        specs = load_specs(spec, shown_as=_shown(spec))
    except SpecError as error:
        raise _BadInput(f"{error}\nthe spec has problems; nothing was checked.") from None
    count, problems = 0, []
    for loaded in specs:
        ran, found = diagnose(args.repo, loaded.platform)
        count += ran
        problems += [problem for problem in found if problem not in problems]
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {args.repo}", file=sys.stderr)
        return DRIFT
    print(f"all {count} checks passed")
    return OK


def _shown(path: Path) -> str:
    """How a spec path appears in messages: relative to here, never a machine path."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.name


def _header_name(spec_file: Path, root: Path | None) -> str:
    """How generated files name their spec: relative to the output folder's repository root, else by file name,
    so the bytes do not depend on where the command runs."""
    try:
        return spec_file.resolve().relative_to(root).as_posix() if root else spec_file.name
    except ValueError:
        return spec_file.name


def _repository_root(out: Path) -> Path | None:
    folder = out.resolve()
    return next((candidate for candidate in (folder, *folder.parents) if (candidate / ".git").exists()), None)


def _spec_file(spec: Path, source: str) -> Path:
    """The file a loaded spec came from: `spec` itself, or the file of that name in the folder `spec`."""
    return spec / source.rsplit("/", 1)[-1] if spec.is_dir() else spec
