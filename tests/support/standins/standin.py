"""State-keeping stand-ins for `aws`, `kubectl` and `velero`, enough of each for the restore drill.

Each executable here runs `main(<tool>)`. The state is one JSON file, `$STANDIN_STATE`: what exists (backups,
restores, namespaces with their object counts, database instances with their tables), every call made (`calls`),
and the calls to fail (`fail`: a call whose command line contains one of these strings exits 1).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

State = dict[str, Any]


def option(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


FLAGS = {"--wait", "--confirm", "--rm", "--attach", "--quiet", "--ignore-not-found", "--use-latest-restorable-time",
         "--no-multi-az", "--no-publicly-accessible", "--skip-final-snapshot", "--delete-automated-backups"}


def words(args: list[str]) -> list[str]:
    """The command's words, without its options and their values."""
    found, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = "=" not in arg and arg not in FLAGS
        else:
            found.append(arg)
    return found


def refuse(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def aws(state: State, args: list[str]) -> int:
    instances = state.setdefault("instances", {})
    identifier = option(args, "--db-instance-identifier")
    if args[:2] == ["rds", "describe-db-instances"]:
        if identifier not in instances:
            return refuse(f"DBInstanceNotFound: {identifier}", 254)
        query = option(args, "--query") or ""
        instance = instances[identifier]
        print(instance["endpoint"] if "Endpoint" in query else " ".join(instance["groups"]))
        return 0
    if args[:2] == ["rds", "restore-db-instance-to-point-in-time"]:
        source, target = option(args, "--source-db-instance-identifier"), option(args, "--target-db-instance-identifier")
        if source not in instances:
            return refuse(f"DBInstanceNotFound: {source}", 254)
        delta = state.get("restored_tables_delta", 0)
        instances[target] = {"endpoint": f"{target}.rds.example", "groups": instances[source]["groups"],
                             "tables": {db: count + delta for db, count in instances[source]["tables"].items()}}
        print(json.dumps({"DBInstance": {"DBInstanceIdentifier": target}}))
        return 0
    if args[:3] == ["rds", "wait", "db-instance-available"]:
        return 0 if identifier in instances else refuse("Waiter DBInstanceAvailable failed", 255)
    if args[:2] == ["rds", "delete-db-instance"]:
        if instances.pop(identifier, None) is None:
            return refuse(f"DBInstanceNotFound: {identifier}", 254)
        return 0
    return refuse(f"aws stand-in: unsupported call {args}", 2)


def kubectl(state: State, args: list[str]) -> int:
    namespaces = state.setdefault("namespaces", {})
    namespace = option(args, "--namespace")
    verbs = words(args)
    if verbs[:2] == ["config", "get-contexts"]:
        return 0
    if "get" in verbs and "backups.velero.io" in verbs:
        print(state["backups"][-1] if state.get("backups") else "", end="")
        return 0
    if "get" in verbs and "restores.velero.io" in verbs:
        print(state.get("restores", {}).get(verbs[verbs.index("restores.velero.io") + 1], ""), end="")
        return 0
    if "run" in verbs:
        container = json.loads(option(args, "--overrides") or "{}")["spec"]["containers"][0]
        env = {item["name"]: item.get("value") for item in container["env"]}
        found = [i for i in state.get("instances", {}).values() if i["endpoint"] == env["PGHOST"]]
        if namespace not in namespaces or not found:
            return refuse("could not connect", 1)
        print(found[0]["tables"][env["PGDATABASE"]])
        return 0
    if "delete" in verbs and "namespace" in verbs:
        namespaces.pop(verbs[verbs.index("namespace") + 1], None)
        return 0
    if "get" in verbs:
        kind = verbs[verbs.index("get") + 1]
        for index in range(namespaces.get(namespace, {}).get(kind, 0)):
            print(f"{kind}/object-{index}")
        return 0
    return refuse(f"kubectl stand-in: unsupported call {args}", 2)


def velero(state: State, args: list[str]) -> int:
    verbs = words(args)
    restores = state.setdefault("restores", {})
    if verbs[:2] == ["restore", "create"]:
        name, backup = verbs[2], option(args, "--from-backup")
        if backup not in state.get("backups", []):
            return refuse(f"backup {backup} not found")
        source, _, target = (option(args, "--namespace-mappings") or "").partition(":")
        state["namespaces"][target] = dict(state["namespaces"][source])
        restores[name] = state.get("restore_phase", "Completed")
        return 0
    if verbs[:2] == ["restore", "delete"]:
        return 0 if restores.pop(verbs[2], None) is not None else refuse(f"restore {verbs[2]} not found")
    return refuse(f"velero stand-in: unsupported call {args}", 2)


def main(tool: str) -> int:
    path = Path(os.environ["STANDIN_STATE"])
    state = json.loads(path.read_text())
    args = sys.argv[1:]
    line = " ".join([tool, *args])
    state.setdefault("calls", []).append(line)
    if any(pattern in line for pattern in state.get("fail", [])):
        code = refuse(f"{tool}: injected failure")
    else:
        code = {"aws": aws, "kubectl": kubectl, "velero": velero}[tool](state, args)
    path.write_text(json.dumps(state, indent=1))
    return code
