"""A gh CLI over issues kept in `<state>/gh/issues.json`: list (with --json and --jq, through the real jq),
create, comment; and pull-request comments. Any other call is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from stand_in import Call, Refused, run


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def main(call: Call) -> int:
    args, path = call.args, call.state / "issues.json"
    issues: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
    if args[:2] == ["issue", "list"]:
        state = option(args, "--state") or "open"
        found = [{key: issue[key] for key in (option(args, "--json") or "number").split(",")}
                 for issue in issues if state in ("all", issue["state"])]
        text = json.dumps(found)
        jq = option(args, "--jq")
        if jq:
            text = subprocess.run(["jq", "-r", jq], input=text, capture_output=True, text=True, check=True).stdout
        print(text, end="" if text.endswith("\n") else "\n")
        return 0
    if args[:2] == ["issue", "create"]:
        body = Path(option(args, "--body-file") or "").read_text()
        issues.append({"number": len(issues) + 1, "title": option(args, "--title"), "state": "open", "body": body,
                       "comments": []})
        path.write_text(json.dumps(issues))
        print(f"https://github.com/stand-in/issues/{len(issues)}")
        return 0
    if args[:2] == ["issue", "comment"]:
        (issue,) = [issue for issue in issues if str(issue["number"]) == args[2]]
        issue["comments"].append(Path(option(args, "--body-file") or "").read_text())
        path.write_text(json.dumps(issues))
        return 0
    if args[:2] == ["pr", "comment"]:
        return 0
    raise Refused(f"the gh stand-in does not know `gh {' '.join(args)}`", 2)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    run("gh", main)
