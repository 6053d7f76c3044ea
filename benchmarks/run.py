"""The speed benchmark: `python benchmarks/run.py [N ...]` (default 10 100 1000), or `... run.py startup`.

Per N it reports the wall time of `python -m bizinfra generate` as a whole process (interpreter
start included; the median of BENCHMARK_REPEATS runs, default 3, each into a folder of its own,
with the fastest and slowest), the time of each stage measured in-process, documents and bytes produced,
documents per second, peak memory, the time of `check` on the unchanged tree, and the floor: the
time to serialize the very same documents with json.dumps and with PyYAML's C dumper, measured
in the same run. Results are printed and written to benchmarks/RESULTS.md.

It also reports the start-up, what a pre-commit hook pays before any work: `python -c "import bizinfra"`,
`python -m bizinfra --version` and `generate` of the bundled specs, beside their floor, starting Python and
importing pydantic and PyYAML. `run.py startup` measures only that, and rewrites only its section of RESULTS.md.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from synthetic import synthetic_spec  # noqa: E402

from bizinfra.artifacts import Artifact  # noqa: E402
from bizinfra.pipeline import apply_patches  # noqa: E402
from bizinfra.plan import resolve  # noqa: E402
from bizinfra.render import render  # noqa: E402
from bizinfra.secret_scan import scan  # noqa: E402
from bizinfra.spec.loader import load_specs  # noqa: E402
from bizinfra.targets import TARGETS  # noqa: E402
from bizinfra.writer import write_tree  # noqa: E402

T = TypeVar("T")
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def best_of(runs: int, action: Callable[[], Any]) -> float:
    return min(timed(action)[1] for _ in range(runs))


def process(args: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak resident KiB of one bizinfra process."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "bizinfra", *args], cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"bizinfra {' '.join(args)} failed")
    return elapsed, usage.ru_maxrss


def stages(spec_dir: Path, out: Path) -> dict[str, Any]:
    gc.disable()  # as the command runs (bizinfra.cli.run), so a stage is not charged for collecting
    try:
        return timed_stages(spec_dir, out)
    finally:
        gc.enable()


def timed_stages(spec_dir: Path, out: Path) -> dict[str, Any]:
    specs, load = timed(lambda: load_specs(spec_dir))
    (plan,), resolve_time = timed(lambda: [resolve(s.platform, s.source) for s in specs])
    figures: dict[str, Any] = {"load": load, "resolve": resolve_time}
    built: dict[str, list[Artifact]] = {}
    for name, target in TARGETS.items():  # a target comes after those it reads
        inputs = [artifact for read in target.reads for artifact in built[read]]
        built[name], figures[f"target {name}"] = timed(lambda target=target, inputs=inputs:  # type: ignore[misc]
                                                       target.compile(plan, inputs))
    artifacts = apply_patches(specs[0], [artifact for made in built.values() for artifact in made])
    files, figures["render"] = timed(lambda: {f"{plan.name}/{a.path}": render(a, specs[0].source) for a in artifacts})
    _, figures["secret scan"] = timed(lambda: scan(files))
    _, figures["write"] = timed(lambda: write_tree(out, files))
    documents = [document for artifact in artifacts for document in artifact.documents]
    figures["documents"] = len(documents)
    figures["bytes"] = sum(len(content) for content in files.values())
    figures["floor json"] = best_of(3, lambda: [json.dumps(d) for d in documents])
    figures["floor yaml"] = best_of(3, lambda: [yaml.dump(d, Dumper=Dumper, sort_keys=False) for d in documents])
    return figures


def measure(services: int, work: Path, repeats: int) -> dict[str, Any]:
    """Each repeat generates into a folder of its own: nothing is deleted until every run is measured,
    since on this machine's disk removing a tree slows the next file creations for seconds."""
    spec = yaml.safe_dump(synthetic_spec(services), sort_keys=False)
    runs = []
    for repeat in range(repeats):
        case = work / f"n{services}-{repeat}"
        (case / "specs").mkdir(parents=True)
        (case / "specs" / "bench.yaml").write_text(spec)
        wall, peak = process(["generate"], case)
        again, _ = process(["generate"], case)
        check, _ = process(["check"], case)
        runs.append({"generate wall": wall, "generate again": again, "check wall": check, "peak MiB": peak / 1024})
    figures = stages(work / f"n{services}-0" / "specs", work / f"inproc{services}")
    figures.update({key: statistics.median(run[key] for run in runs) for key in runs[0]})
    walls = sorted(run["generate wall"] for run in runs)
    figures.update({"services": services, "generate wall range": f"{walls[0]:.3f} to {walls[-1]:.3f}"})
    figures["documents/s"] = figures["documents"] / figures["generate wall"]
    figures["floor"] = figures["floor yaml"]
    figures["ratio to floor"] = figures["generate wall"] / figures["floor"]
    return figures


FLOOR = 'python -c "import pydantic, yaml"'
STARTUP_SECTION = "## Start-up"


def startup_commands(work: Path) -> dict[str, Callable[[int], list[str]]]:
    """What a hook's run starts with, by name: each gives the arguments of its n-th run."""
    bundled = ["-m", "bizinfra", "generate", "--spec", str(ROOT / "specs")]
    return {
        "python -c pass": lambda n: ["-c", "pass"],
        FLOOR: lambda n: ["-c", "import pydantic, yaml"],
        'python -c "import bizinfra"': lambda n: ["-c", "import bizinfra"],
        "python -m bizinfra --version": lambda n: ["-m", "bizinfra", "--version"],
        "python -m bizinfra generate --spec specs --out EMPTY_FOLDER": lambda n: [*bundled, "--out",
                                                                                   str(work / f"startup-{n}")],
    }


def wall(arguments: list[str], cwd: Path) -> float:
    """Wall seconds of one Python process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *arguments], cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def startup(work: Path, runs: int) -> dict[str, float]:
    """Median wall seconds of each start-up command, after a round that fills the bytecode caches. Runs are
    interleaved, so a busy machine slows each command alike."""
    commands = startup_commands(work)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for n in range(runs + 1):
        for name, arguments in commands.items():
            seconds = wall(arguments(n), work)
            if n:
                walls[name].append(seconds)
    return {name: statistics.median(seconds) for name, seconds in walls.items()}


def startup_report(figures: dict[str, float], runs: int) -> str:
    """The start-up section of RESULTS.md: each command's seconds and its ratio to the floor."""
    floor = figures[FLOOR]
    lines = [f"{STARTUP_SECTION}\n",
             f"What a pre-commit hook pays: wall seconds of whole processes, the median of {runs} runs each, "
             "interleaved, from bytecode caches as an installed package runs (load average "
             f"{os.getloadavg()[0]:.1f} on this shared machine when measured). The floor is starting Python and "
             "importing pydantic and PyYAML, which any run that reads a spec needs.\n",
             "| command | seconds | ratio to floor |", "| --- | --- | --- |"]
    lines += [f"| `{name}` | {seconds:.3f} | {seconds / floor:.2f} |" for name, seconds in figures.items()]
    return "\n".join(lines) + "\n"


def with_bytecode_caches(folder: Path) -> None:
    """Child processes keep their compiled modules under `folder`, as an installed package runs from its .pyc
    files, even where the environment says not to write them (PYTHONDONTWRITEBYTECODE)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")


def startup_only(runs: int) -> None:
    """Measure the start-up alone and put it in RESULTS.md in place of the previous start-up section."""
    with tempfile.TemporaryDirectory() as folder:
        with_bytecode_caches(Path(folder))
        section = startup_report(startup(Path(folder), runs), runs)
    print(section)
    results = ROOT / "benchmarks" / "RESULTS.md"
    rest = results.read_text().split(f"\n{STARTUP_SECTION}\n")[0].rstrip("\n")
    results.write_text(f"{rest}\n\n{section}")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return (f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, PyYAML {yaml.__version__} "
            f"({'libyaml' if hasattr(yaml, 'CSafeDumper') else 'pure Python'})")


def report(results: list[dict[str, Any]]) -> str:
    columns = ["services", "generate wall", "generate wall range", "generate again", "check wall", "load", "resolve",
               *[f"target {name}" for name in TARGETS], "render", "secret scan", "write", "documents", "bytes",
               "documents/s", "peak MiB", "floor json", "floor yaml", "ratio to floor"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for result in results:
        cells = [f"{result[c]:.3f}" if isinstance(result[c], float) else str(result[c]) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bundled_spec(work: Path, repeats: int) -> list[float]:
    """Whole `generate` processes of the bundled business-app spec, each into an empty folder."""
    spec = ROOT / "specs" / "business-app.yaml"
    return sorted(process(["generate", "--spec", str(spec), "--out", str(work / f"bundled-{n}")], work)[0]
                  for n in range(max(repeats, 5)))


def goals(bundled: list[float], by_size: dict[int, dict[str, Any]]) -> str:
    """Issue 9's goals against this run's figures, each with whether it is met."""
    rows = [("business-app `generate`, whole process, under 0.3 s",
             f"{statistics.median(bundled):.3f} s (median; {bundled[0]:.3f} to {bundled[-1]:.3f})",
             statistics.median(bundled) < 0.3)]
    if 1000 in by_size:
        big = by_size[1000]
        rows += [
            ("1000 services under 2 s wall", f"{big['generate wall']:.3f} s (median; {big['generate wall range']})",
             big["generate wall"] < 2),
            ("1000 services under 500 MB peak memory", f"{big['peak MiB']:.0f} MiB", big["peak MiB"] * 2**20 < 500e6),
            ("at least 10,000 documents per second", f"{big['documents/s']:,.0f}", big["documents/s"] >= 10_000),
            ("at most 1.5 times the floor (PyYAML's C dumper)", f"{big['ratio to floor']:.2f}",
             big["ratio to floor"] <= 1.5),
            ("`check` of the unchanged tree no dearer than `generate`",
             f"{big['check wall']:.3f} s against {big['generate wall']:.3f} s", big["check wall"] <= big["generate wall"]),
        ]
        if 100 in by_size:
            growth = big["generate wall"] / by_size[100]["generate wall"]
            rows.append(("1000 services at most 11 times the 100-service run", f"{growth:.1f} times", growth <= 11))
    lines = ["| goal | measured | met |", "| --- | --- | --- |"]
    lines += [f"| {goal} | {measured} | {'yes' if met else 'no'} |" for goal, measured, met in rows]
    return "\n".join(lines)


def main() -> None:
    startup_runs = int(os.environ.get("BENCHMARK_STARTUP_RUNS", "21"))
    if sys.argv[1:] == ["startup"]:
        startup_only(startup_runs)
        return
    sizes = [int(arg) for arg in sys.argv[1:]] or [10, 100, 1000]
    repeats = int(os.environ.get("BENCHMARK_REPEATS", "3"))
    with tempfile.TemporaryDirectory() as folder:
        with_bytecode_caches(Path(folder))
        started = startup_report(startup(Path(folder), startup_runs), startup_runs)
        bundled = bundled_spec(Path(folder), repeats)
        results = [measure(n, Path(folder), repeats) for n in sizes]
    table = report(results)
    against_goals = goals(bundled, {r["services"]: r for r in results})
    print(f"{table}\n\n{against_goals}\n\n{started}")
    (ROOT / "benchmarks" / "RESULTS.md").write_text(
        "# Benchmark results\n\n"
        f"Machine: {machine()}.\n\n"
        "Times in seconds. `generate wall` is the whole `python -m bizinfra generate` process into an empty folder, "
        f"interpreter start included, the median of {repeats} runs (`generate wall range`: the fastest and slowest); "
        "`generate again` the same on the unchanged tree, `check wall` a `check` of it, and `peak MiB` the "
        "generating process's peak resident memory, medians too; stage times are measured "
        "in-process; the floor is the time PyYAML's C dumper (`floor yaml`) takes to serialize the very same "
        "documents in the same run, and `ratio to floor` is `generate wall` over it.\n\n"
        f"{table}\n\n## Against the goals of issue 9\n\n{against_goals}\n\n{started}")


if __name__ == "__main__":
    main()
