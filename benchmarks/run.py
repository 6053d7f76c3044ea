"""The speed benchmark: `python benchmarks/run.py [N ...]` (default 10 100 1000).

Per N it reports the wall time of `python -m bizinfra generate` as a whole process (interpreter
start included; the median of BENCHMARK_REPEATS runs, default 3, each into a folder of its own,
with the fastest and slowest), the time of each stage measured in-process, documents and bytes produced,
documents per second, peak memory, the time of `check` on the unchanged tree, and the floor: the
time to serialize the very same documents with json.dumps and with PyYAML's C dumper, measured
in the same run. Results are printed and written to benchmarks/RESULTS.md.
"""

from __future__ import annotations

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


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [10, 100, 1000]
    repeats = int(os.environ.get("BENCHMARK_REPEATS", "3"))
    with tempfile.TemporaryDirectory() as folder:
        results = [measure(n, Path(folder), repeats) for n in sizes]
    table = report(results)
    print(table)
    scaling = ""
    by_size = {r["services"]: r for r in results}
    if 100 in by_size and 1000 in by_size:
        scaling = (f"\n1000 services take {by_size[1000]['generate wall'] / by_size[100]['generate wall']:.1f} times "
                   "the 100-service run (goal: at most 11).\n")
    (ROOT / "benchmarks" / "RESULTS.md").write_text(
        "# Benchmark results\n\n"
        f"Machine: {machine()}.\n\n"
        "Times in seconds. `generate wall` is the whole `python -m bizinfra generate` process into an empty folder, "
        f"interpreter start included, the median of {repeats} runs (`generate wall range`: the fastest and slowest); "
        "`generate again` the same on the unchanged tree, `check wall` a `check` of it, and `peak MiB` the "
        "generating process's peak resident memory, medians too; stage times are measured "
        "in-process; the floor is the time PyYAML's C dumper (`floor yaml`) takes to serialize the very same "
        "documents in the same run, and `ratio to floor` is `generate wall` over it.\n\n"
        f"{table}\n{scaling}")


if __name__ == "__main__":
    main()
