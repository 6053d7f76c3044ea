"""The speed benchmark: `python benchmarks/run.py [N ...]` (default 10 100 1000).

Per N it reports the wall time of `python -m bizinfra generate` as a whole process (interpreter
start included; the median of BENCHMARK_REPEATS runs, default 3, each into a folder of its own,
with the fastest and slowest), the time of each stage measured in-process, documents and bytes produced,
documents per second, peak memory, the time of `check` on the unchanged tree, and the floor: the
time to serialize the very same documents with json.dumps and with PyYAML's C dumper, measured
in the same run. Results are printed and written to benchmarks/RESULTS.md.
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
    artifacts = []
    for name, target in TARGETS.items():
        made, seconds = timed(lambda target=target: target(plan))  # type: ignore[misc]
        figures[f"target {name}"] = seconds
        artifacts += made
    artifacts = apply_patches(specs[0], artifacts)
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
    sizes = [int(arg) for arg in sys.argv[1:]] or [10, 100, 1000]
    repeats = int(os.environ.get("BENCHMARK_REPEATS", "3"))
    with tempfile.TemporaryDirectory() as folder:
        bundled = bundled_spec(Path(folder), repeats)
        results = [measure(n, Path(folder), repeats) for n in sizes]
    table = report(results)
    against_goals = goals(bundled, {r["services"]: r for r in results})
    print(f"{table}\n\n{against_goals}")
    (ROOT / "benchmarks" / "RESULTS.md").write_text(
        "# Benchmark results\n\n"
        f"Machine: {machine()}.\n\n"
        "Times in seconds. `generate wall` is the whole `python -m bizinfra generate` process into an empty folder, "
        f"interpreter start included, the median of {repeats} runs (`generate wall range`: the fastest and slowest); "
        "`generate again` the same on the unchanged tree, `check wall` a `check` of it, and `peak MiB` the "
        "generating process's peak resident memory, medians too; stage times are measured "
        "in-process; the floor is the time PyYAML's C dumper (`floor yaml`) takes to serialize the very same "
        "documents in the same run, and `ratio to floor` is `generate wall` over it.\n\n"
        f"{table}\n\n## Against the goals of issue 9\n\n{against_goals}\n")


if __name__ == "__main__":
    main()
