"""checkov over many folders with its start-up paid once.

`checkov` spends most of a stack's run importing itself (about 2.7 of 4 CPU seconds on one stack). Run as
`python -m tests.support.checkov_batch` with a JSON list of argument lists on stdin, this imports checkov once, then
runs each argument list in a child forked from that process: each a process of its own, with checkov's state as it
is after import, as the `checkov` command would start; two at a time (the machine's two cores). It prints a JSON list
of [exit code, stdout, stderr], in the order given. checkov's own arguments are not changed: one run per folder, its
own skips, exactly as `bizinfra.validate.terraform.checkov_command` builds them (one process over several folders
would merge their graphs and their reports)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

PARALLEL = 2


def run(commands: list[list[str]], env: dict[str, str]) -> list[tuple[int, str, str]]:
    """(exit code, stdout, stderr) of each `checkov ...` command, as if each had been run on its own."""
    batch = subprocess.run([sys.executable, __file__], input=json.dumps([command[1:] for command in commands]),
                           capture_output=True, text=True, env=env, timeout=900, check=False)
    assert batch.returncode == 0, batch.stderr[-3000:]
    return [(code, out, err) for code, out, err in json.loads(batch.stdout)]


def run_one(argv: list[str], out: Path, err: Path) -> int:
    """In the child: checkov with `argv`, its output in `out` and `err`; never returns."""
    with out.open("wb") as stdout, err.open("wb") as stderr:
        os.dup2(stdout.fileno(), 1)
        os.dup2(stderr.fileno(), 2)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 (the child's whole life)
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    code = 1
    try:
        from checkov.main import Checkov

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=SyntaxWarning)
            code = Checkov(argv).run() or 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # as the `checkov` command would end: a traceback, exit 1
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    commands: list[list[str]] = json.load(sys.stdin)
    import checkov.main  # noqa: F401 (the start-up the children share)

    scratch = Path(tempfile.mkdtemp(prefix="checkov-batch-"))
    running: dict[int, int] = {}  # child pid -> index of its command
    codes: dict[int, int] = {}
    for index, argv in enumerate(commands):
        while len(running) >= PARALLEL:
            pid, status = os.wait()
            codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
        pid = os.fork()
        if pid == 0:
            run_one(argv, scratch / f"{index}.out", scratch / f"{index}.err")
        running[pid] = index
    while running:
        pid, status = os.wait()
        codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
    results = [[codes[index], (scratch / f"{index}.out").read_text(), (scratch / f"{index}.err").read_text()]
               for index in range(len(commands))]
    for path in scratch.iterdir():
        path.unlink()
    scratch.rmdir()
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
