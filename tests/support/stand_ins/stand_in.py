"""What every stand-in shares: its call recorded, a failure the test asked for, its state directory.

A stand-in is a program run as `<tool> <args>` by the workflow runner's jobs, with STAND_IN_STATE naming the world's
state directory: `calls.jsonl` (every call of every tool, in order), `failures.json` (calls that must fail) and one
folder per tool for what it keeps (`<state>/<tool>/`). A stand-in's `main` returns its exit status; anything it
prints goes to the job's log as the real tool's would.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path


class Call:
    def __init__(self, tool: str) -> None:
        self.tool = tool
        self.args = sys.argv[1:]
        self.root = Path(os.environ["STAND_IN_STATE"])
        self.state = self.root / tool
        self.state.mkdir(parents=True, exist_ok=True)
        self.cwd = Path.cwd()
        self.workspace = Path(os.environ.get("GITHUB_WORKSPACE", self.cwd))

    def where(self, folder: Path | None = None) -> str:
        """A folder as the calls log shows it: relative to the job's workspace."""
        folder = (folder or self.cwd).resolve()
        try:
            return folder.relative_to(self.workspace.resolve()).as_posix()
        except ValueError:
            return str(folder)

    def planned_failure(self, where: str) -> dict[str, object] | None:
        path = self.root / "failures.json"
        failures = json.loads(path.read_text()) if path.exists() else []
        for index, failure in enumerate(failures):
            if failure["tool"] == self.tool and all(word in self.args for word in failure["words"]) \
                    and failure["where"] in where:
                del failures[index]
                path.write_text(json.dumps(failures))
                return dict(failure)
        return None

    def record(self, where: str, status: int) -> None:
        line = {"tool": self.tool, "args": self.args, "where": where, "role": os.environ.get("STAND_IN_ROLE"),
                "job": os.environ.get("GITHUB_JOB"), "exit": status}
        with (self.root / "calls.jsonl").open("a") as log:
            log.write(json.dumps(line) + "\n")


def run(tool: str, main: Callable[[Call], int], where: Callable[[Call], str] | None = None) -> None:
    """Record the call, fail it if the test asked, else run `main`; exit with its status."""
    call = Call(tool)
    folder = where(call) if where else call.where()
    failure = call.planned_failure(folder)
    if failure:
        print(failure["message"], file=sys.stderr)
        status = int(str(failure["exit"]))
    else:
        try:
            status = main(call)
        except Refused as refusal:
            print(refusal, file=sys.stderr)
            status = refusal.status
    call.record(folder, status)
    sys.exit(status)


class Refused(Exception):
    """The real tool would refuse this call: its message and exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status
