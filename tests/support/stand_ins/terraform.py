"""A terraform that keeps state: one stack per folder, as the S3 backend keeps one state per key.

Per stack (`<state>/terraform/<folder>.json`): `serial`, `applied` (the configuration last applied, by digest),
`real` (what the cloud holds: the test sets it to something else to make drift). A plan has changes when the
configuration differs from what was applied, or the cloud from the state (drift); `-detailed-exitcode` says so
with 2. A plan file names its stack and the serial it was made against: `apply` of a plan made before another
apply is refused as stale, as Terraform refuses it. Roles listed in `<state>/terraform/read-only-roles` cannot
write the state or its lock: an apply, or a plan without `-lock=false`, is refused under one. Roles listed in
`<state>/terraform/no-secret-roles` cannot read secret values: a refreshing plan (no `-refresh=false`) of a stack
managing an `aws_secretsmanager_secret_version` is refused under one. Drift shows only in a refreshing plan;
`-refresh-only` shows nothing else. Applying a stack
with an `aws_eks_cluster` makes the cluster the aws stand-in reports; a stack reading one
(`data.aws_eks_cluster`) cannot plan before it exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from stand_in import Call, Refused, run

VERSION = "1.11.4"


def main(call: Call) -> int:
    options = [arg for arg in call.args if arg.startswith("-chdir=")]
    args = [arg for arg in call.args if not arg.startswith("-chdir=")]
    folder = Path(options[-1].partition("=")[2]) if options else call.cwd
    command, flags = (args[0], args[1:]) if args else ("", [])
    stack = Stack(call, folder)
    commands = {"version": lambda: print(f"Terraform v{VERSION}"), "init": stack.init, "validate": stack.validate,
                "fmt": lambda: stack.fmt(flags), "plan": lambda: stack.plan(flags), "show": lambda: stack.show(flags),
                "apply": lambda: stack.apply(flags)}
    if command not in commands:
        raise Refused(f"the terraform stand-in does not know `terraform {' '.join(args)}`", 2)
    return commands[command]() or 0


class Stack:
    def __init__(self, call: Call, folder: Path) -> None:
        self.call, self.folder = call, folder.resolve()
        self.key = call.where(self.folder)
        self.path = call.state / "stacks" / f"{self.key.replace('/', '__')}.json"

    # -- what the stand-in keeps ---------------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        return json.loads(self.path.read_text()) if self.path.exists() else {"serial": 0, "applied": None,
                                                                              "real": None}

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(state))

    def configuration(self) -> dict[str, Any]:
        """The stack's resources and data sources: {"resource"|"data": {type: {name: body}}}."""
        merged: dict[str, Any] = {"resource": {}, "data": {}}
        for path in sorted(self.folder.glob("*.tf.json")):
            document = json.loads(path.read_text())
            for block in merged:
                for kind, items in document.get(block, {}).items():
                    merged[block].setdefault(kind, {}).update(items)
        return merged

    def digest(self) -> str:
        files = sorted([*self.folder.glob("*.tf.json"), *self.folder.glob("*.tf")])
        if not files:
            raise Refused(f"Error: No configuration files in {self.key}")
        return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()[:12]

    def clusters(self, block: str) -> list[str]:
        found = self.configuration().get(block, {}).get("aws_eks_cluster", {})
        return sorted(item["name"] for item in found.values() if isinstance(item, dict) and "name" in item)

    def role(self) -> str:
        return os.environ.get("STAND_IN_ROLE", "")

    def writable(self, what: str) -> None:
        read_only = self.call.state / "read-only-roles"
        if read_only.exists() and self.role() in read_only.read_text().split():
            raise Refused(f"Error: {what}: AccessDenied: {self.role()} may not write s3://state/{self.key}")

    def reads_secrets(self) -> None:
        no_secrets = self.call.state / "no-secret-roles"
        if no_secrets.exists() and self.role() in no_secrets.read_text().split():
            raise Refused(f"Error: reading Secrets Manager Secret Version: AccessDeniedException: {self.role()} is "
                          "not authorized to perform: secretsmanager:GetSecretValue")

    def initialised(self) -> None:
        if not (self.folder / ".terraform").is_dir():
            raise Refused("Error: Backend initialization required, please run \"terraform init\"")

    # -- the commands ----------------------------------------------------------------------------------------------

    def init(self) -> None:
        self.digest()
        (self.folder / ".terraform").mkdir(exist_ok=True)
        lock = self.folder / ".terraform.lock.hcl"
        if not lock.exists():
            lock.write_text("# the stand-in's provider lock\n")
        print("Terraform has been successfully initialized!")

    def validate(self) -> None:
        self.initialised()
        print("Success! The configuration is valid.")

    def fmt(self, flags: list[str]) -> int:
        """`.tf` files with tabs or trailing spaces are what `terraform fmt` would rewrite (it leaves .tf.json)."""
        files = self.folder.rglob("*.tf") if "-recursive" in flags else self.folder.glob("*.tf")
        unformatted = [p for p in sorted(files) if any(
            "\t" in line or line != line.rstrip() for line in p.read_text().splitlines())]
        for path in unformatted:
            print(self.call.where(path))
        return 3 if unformatted and "-check" in flags else 0

    def plan(self, flags: list[str]) -> int:
        self.initialised()
        if "-lock=false" not in flags:
            self.writable("Error acquiring the state lock")
        refresh = "-refresh=false" not in flags
        if refresh and self.configuration()["resource"].get("aws_secretsmanager_secret_version"):
            self.reads_secrets()
        missing = [name for name in self.clusters("data") if not (self.call.root / "aws" / "clusters" / name).exists()]
        if missing:
            raise Refused(f"Error: reading EKS Cluster ({missing[0]}): couldn't find resource")
        state, desired = self.load(), self.digest()
        drift = refresh and state["real"] != state["applied"]
        changes = drift or ("-refresh-only" not in flags and state["applied"] != desired)
        text = describe(self.key, state, desired, drift, "-refresh-only" in flags)
        print(text)
        out = [flag.partition("=")[2] for flag in flags if flag.startswith("-out=")]
        if out:
            (self.folder / out[-1]).write_text(json.dumps({"stack": self.key, "serial": state["serial"],
                                                           "desired": desired, "text": text}))
        return 2 if changes and "-detailed-exitcode" in flags else 0

    def show(self, flags: list[str]) -> None:
        plan = self.plan_file([flag for flag in flags if not flag.startswith("-")])
        print(plan["text"])

    def plan_file(self, names: list[str]) -> dict[str, Any]:
        if not names:
            raise Refused("the terraform stand-in applies and shows saved plans only", 2)
        path = self.folder / names[-1]
        if not path.is_file():
            raise Refused(f"Error: Failed to load \"{names[-1]}\" as a plan file")
        plan: dict[str, Any] = json.loads(path.read_text())
        return plan

    def apply(self, flags: list[str]) -> None:
        self.initialised()
        plan = self.plan_file([flag for flag in flags if not flag.startswith("-")])
        self.writable("Error acquiring the state lock")
        state = self.load()
        if plan["stack"] != self.key or plan["serial"] != state["serial"]:
            raise Refused("Error: Saved plan is stale: the state changed since this plan was made")
        self.save({"serial": state["serial"] + 1, "applied": plan["desired"], "real": plan["desired"]})
        for name in self.clusters("resource"):
            cluster = self.call.root / "aws" / "clusters" / name
            cluster.parent.mkdir(parents=True, exist_ok=True)
            cluster.write_text("ACTIVE\n")
        print("Apply complete!")


def describe(key: str, state: dict[str, Any], desired: str, drift: bool, refresh_only: bool) -> str:
    if drift:
        return (f"Note: Objects have changed outside of Terraform in {key}\n\n"
                "Plan: 0 to add, 1 to change, 0 to destroy.")
    if refresh_only:
        return "No changes. Your infrastructure still matches the configuration."
    if state["applied"] is None:
        return f"Terraform will create the stack {key} ({desired}).\n\nPlan: 1 to add, 0 to change, 0 to destroy."
    if state["applied"] != desired:
        return f"Terraform will update {key} to {desired}.\n\nPlan: 0 to add, 1 to change, 0 to destroy."
    return "No changes. Your infrastructure matches the configuration."


def folder_of(call: Call) -> str:
    chdir = [arg.partition("=")[2] for arg in call.args if arg.startswith("-chdir=")]
    return call.where(Path(chdir[-1]) if chdir else None)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    run("terraform", main, folder_of)
