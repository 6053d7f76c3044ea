"""Terraform JSON as plain data: references, blocks, ARNs, IAM policy documents and the merge of a file's parts."""

from __future__ import annotations

from typing import Any

from bizinfra.naming import arn
from bizinfra.plan import EnvironmentPlan, aws_name
from bizinfra.targets.terraform.handles import PARTITION, Data, Resource

Block = dict[str, Any]


def ref(expression: str) -> str:
    """An interpolation of an expression: `ref("var.log_retention_days")`; blocks are referenced by their handles."""
    return "${" + expression + "}"


def resource(kind: str, name: str, body: Block) -> Block:
    """A resource nothing references; a block that is referenced is declared through its handle (handles.py)."""
    return Resource(kind, name).declare(body)


def variable(name: str, type_: str, description: str, default: Any = None, *, sensitive: bool = False,
             validation: Block | None = None) -> Block:
    body: Block = {"type": type_, "description": description}
    if default is not None:
        body["default"] = default
    if sensitive:
        body["sensitive"] = True
    if validation:
        body["validation"] = [validation]
    return {"variable": {name: body}}


def output(name: str, value: Any, description: str, *, sensitive: bool = False) -> Block:
    body: Block = {"description": description, "value": value}
    if sensitive:
        body["sensitive"] = True
    return {"output": {name: body}}


def merge(*parts: Block) -> Block:
    """The parts of one file as one document; a name declared twice is a bug, not something to overwrite."""
    document: Block = {}
    for part in parts:
        for section, entries in part.items():
            target = document.setdefault(section, {})
            for key, value in entries.items():
                if section in ("resource", "data"):
                    named = target.setdefault(key, {})
                    for name in value:
                        if name in named:
                            raise ValueError(f"{section} {key}.{name} is declared twice")
                    named.update(value)
                elif key in target:
                    raise ValueError(f"{section} {key} is declared twice")
                else:
                    target[key] = value
    return document


def name(env: EnvironmentPlan, *parts: str, limit: int = 63) -> str:
    """An AWS name owned by this environment's stack: `<platform>-<environment>-<part>`."""
    return aws_name(env.qualified_name, *parts, limit=limit)


def tags(env: EnvironmentPlan, *parts: str) -> dict[str, str]:
    """The Name tag; everything else comes from the provider's default_tags."""
    return {"Name": name(env, *parts, limit=255)}


def statement(actions: list[str], resources: list[str] | None = None, *, sid: str | None = None,
              effect: str = "Allow", principals: list[Block] | None = None,
              conditions: list[Block] | None = None) -> Block:
    body: Block = {}
    if sid:
        body["sid"] = sid
    body["effect"] = effect
    body["actions"] = actions
    if resources is not None:
        body["resources"] = resources
    if principals:
        body["principals"] = principals
    if conditions:
        body["condition"] = conditions
    return body


def condition(test: str, variable_: str, values: list[str]) -> Block:
    return {"test": test, "variable": variable_, "values": values}


def principal(kind: str, *identifiers: str) -> Block:
    return {"type": kind, "identifiers": list(identifiers)}


def iam_document(name_: str) -> Data:
    """The handle of an IAM policy document; `policy_document` declares it, `.ref("json")` reads it."""
    return Data("aws_iam_policy_document", name_)


def policy_document(document: Data, statements: list[Block]) -> Block:
    return document.declare({"statement": statements})


def assume_role_policy(document: Data, service: str, actions: tuple[str, ...] = ("sts:AssumeRole",)) -> Block:
    return policy_document(document, [statement(list(actions), principals=[principal("Service", service)])])


def stack_arn(service: str, resource_: str, *, region: str = "", account: str = "") -> str:
    """An ARN in the partition Terraform finds the stack's region in: the provider knows it at apply time, and for
    the provider's region (the spec's) it is the plan's `partition` too, which the workflows write."""
    return arn(service, resource_, partition=PARTITION.ref("partition"), region=region, account=account)


def managed_policy(policy: str) -> str:
    """An AWS managed policy's ARN, in whatever partition the stack runs."""
    return stack_arn("iam", f"policy/{policy}", account="aws")


def policy_attachment(role: Resource, policy: str) -> Resource:
    """The attachment of an AWS managed policy to a role: `<role>_<policy>`."""
    return Resource("aws_iam_role_policy_attachment", f"{role.name}_{policy.rsplit('/', 1)[-1].replace('-', '_')}")


def role_with_policies(role: Resource, role_name: str, trust: Data, policies: list[str], description: str) -> Block:
    """An IAM role and one attachment per AWS managed policy."""
    parts = [role.declare({
        "name": role_name,
        "description": description,
        "assume_role_policy": trust.ref("json"),
    })]
    for policy in policies:
        parts.append(policy_attachment(role, policy).declare({
            "role": role.ref("name"),
            "policy_arn": managed_policy(policy),
        }))
    return merge(*parts)
