"""What a spec change does, per target and per object: two generated trees in, a list of changes out.

Pure: `changes(old, new)` reads bytes (`<platform>/<target>/...` paths, as `build` returns them) and writes
nothing. Terraform resources are compared by address, and a change to an argument that forces replacement
(the table below) reports the resource "replaced"; the replacement then reaches whatever references it.
Kubernetes objects are compared by (kind, namespace, name), Prometheus rules by name, workflow jobs by id,
and every other file as a whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

# Arguments that force a new resource, for the types bizinfra writes. Source: terraform-provider-aws resource
# documentation (hashicorp/aws 5.x), arguments marked "Forces new resource" / ForceNew in the resource's schema;
# the vendored provider schema (data/reference/aws-provider) does not carry ForceNew. Dotted names are arguments
# of a nested block. Left out on purpose: aws_db_instance.identifier (renamed in place since 5.0),
# db_subnet_group_name (RDS moves an instance between subnet groups in place), and
# aws_elasticache_replication_group.engine (redis -> valkey is in place since 5.x).
FORCE_NEW: dict[str, frozenset[str]] = {name: frozenset(arguments.split()) for name, arguments in {
    "aws_db_instance": "engine username kms_key_id storage_encrypted availability_zone db_name character_set_name "
                       "timezone snapshot_identifier",
    "aws_rds_cluster": "cluster_identifier engine database_name master_username kms_key_id storage_encrypted "
                       "db_subnet_group_name availability_zones",
    "aws_elasticache_replication_group": "replication_group_id port subnet_group_name at_rest_encryption_enabled "
                                         "kms_key_id preferred_cache_cluster_azs snapshot_arns snapshot_name",
    "aws_s3_bucket": "bucket bucket_prefix object_lock_enabled",
    "aws_kms_key": "key_usage customer_master_key_spec multi_region custom_key_store_id",
    "aws_kms_alias": "name name_prefix",
    "aws_secretsmanager_secret": "name name_prefix",
    "aws_vpc": "cidr_block ipv4_ipam_pool_id",
    "aws_subnet": "vpc_id cidr_block availability_zone availability_zone_id",
    "aws_security_group": "name name_prefix vpc_id description",
    "aws_vpc_security_group_ingress_rule": "security_group_id",
    "aws_vpc_security_group_egress_rule": "security_group_id",
    "aws_route_table": "vpc_id",
    "aws_route": "route_table_id destination_cidr_block",
    "aws_route_table_association": "subnet_id gateway_id",
    "aws_nat_gateway": "allocation_id subnet_id connectivity_type",
    "aws_vpc_endpoint": "vpc_id service_name vpc_endpoint_type",
    "aws_flow_log": "vpc_id subnet_id log_destination log_destination_type traffic_type iam_role_arn",
    "aws_db_subnet_group": "name name_prefix",
    "aws_db_parameter_group": "name name_prefix family description",
    "aws_elasticache_subnet_group": "name",
    "aws_eks_cluster": "name role_arn vpc_config.subnet_ids vpc_config.security_group_ids kubernetes_network_config",
    "aws_eks_node_group": "cluster_name node_group_name node_role_arn subnet_ids ami_type capacity_type "
                          "instance_types disk_size remote_access",
    "aws_eks_addon": "cluster_name addon_name",
    "aws_eks_access_entry": "cluster_name principal_arn",
    "aws_eks_pod_identity_association": "cluster_name namespace service_account",
    "aws_launch_template": "name name_prefix",
    "aws_iam_role": "name name_prefix path",
    "aws_iam_openid_connect_provider": "url",
    "aws_cloudwatch_log_group": "name name_prefix",
    "aws_lb": "name name_prefix internal load_balancer_type",
    "aws_lb_target_group": "name name_prefix port protocol vpc_id target_type",
    "aws_route53_zone": "name",
    "aws_route53_record": "zone_id name type",
    "aws_acm_certificate": "domain_name validation_method key_algorithm",
}.items()}

# Resources whose destruction takes data with it: rows, cached values, objects, secrets, logs, and (for a KMS key)
# everything encrypted under it.
HOLDS_DATA = frozenset({
    "aws_db_instance", "aws_rds_cluster", "aws_elasticache_replication_group", "aws_elasticache_cluster",
    "aws_s3_bucket", "aws_kms_key", "aws_secretsmanager_secret", "aws_ebs_volume", "aws_efs_file_system",
    "aws_cloudwatch_log_group",
})
# Kubernetes objects whose deletion deletes data: a namespace takes every object in it.
K8S_HOLDS_DATA = frozenset({"Namespace", "PersistentVolumeClaim", "PersistentVolume", "StatefulSet"})
# Data stores that live in the VPC's subnets.
IN_THE_VPC = frozenset({"aws_db_instance", "aws_rds_cluster", "aws_elasticache_replication_group",
                        "aws_elasticache_cluster", "aws_efs_file_system"})
# In place, but no way back: the engine moves to a new major version.
ONE_WAY_VERSIONS = frozenset({"aws_db_instance", "aws_rds_cluster", "aws_elasticache_replication_group"})

ORDER = ("added", "changed", "replaced", "removed")
SHOWN_PATHS = 6  # changed paths named per object; more are counted


@dataclass(frozen=True)
class Change:
    platform: str
    target: str  # terraform | kubernetes | monitoring | github | a file's first folder
    environment: str  # "" for platform-wide files
    kind: str  # a resource type, a Kubernetes kind, alert | record, job, file
    object: str
    change: str  # added | changed | replaced | removed
    data_loss: bool = False
    why: str = ""


def changes(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> list[Change]:
    """Every change from `old` to `new`, data-losing ones first within an environment."""
    found: list[Change] = []
    for (platform, target, env), paths in _groups([*old, *new]).items():
        before = {path: old[path] for path in paths if path in old}
        after = {path: new[path] for path in paths if path in new}
        if before == after:
            continue
        compare = _COMPARE.get(target)
        structured = compare is not None and _parse_all(before, after)
        if compare is not None and structured:
            found += compare(platform, env, before, after)
        else:
            found += _files(platform, target, env, before, after)
    return sorted(found, key=lambda c: (c.platform, c.environment, not c.data_loss, c.target, c.kind, c.object))


def _groups(paths: Iterable[str]) -> dict[tuple[str, str, str], list[str]]:
    """Paths by (platform, target, environment); a target's per-environment folders are its environments."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for path in sorted(set(paths)):
        parts = path.split("/")
        if len(parts) < 3:
            continue  # the manifest, not a generated file
        env = parts[2] if parts[1] in ("terraform", "kubernetes", "monitoring") and len(parts) > 3 else ""
        grouped.setdefault((parts[0], parts[1], env), []).append(path)
    return grouped


def _parse_all(*trees: Mapping[str, bytes]) -> bool:
    """Whether every structured file parses; a file that does not is compared as bytes instead."""
    try:
        for tree in trees:
            for path, content in tree.items():
                _parse(path, content)
    except (ValueError, yaml.YAMLError):
        return False
    return True


def _parse(path: str, content: bytes) -> list[Any]:
    if path.endswith(".json"):
        return [json.loads(content)]
    if path.endswith((".yml", ".yaml")):
        return [doc for doc in yaml.safe_load_all(content) if doc is not None]
    return []


# Terraform


def _terraform(platform: str, env: str, old: Mapping[str, bytes], new: Mapping[str, bytes]) -> list[Change]:
    before, after = _module(old), _module(new)
    status: dict[str, tuple[str, list[str]]] = {}  # address -> (change, the arguments that changed)
    values: set[str] = set()  # the locals, variables and data sources that read differently
    while True:  # a replacement reaches what references it: repeat until nothing more changes
        settled = (dict(status), set(values))
        reads = _Reads(before["resource"], after["resource"], settled[0], settled[1])
        values = {name for name, (old_value, new_value) in _values(before, after).items()
                  if old_value != new_value or reads.changed(new_value)}
        for address in sorted({*before["resource"], *after["resource"]}):
            status[address] = _resource_status(before["resource"].get(address), after["resource"].get(address),
                                               address, reads)
        if (status, values) == settled:
            break
    vpc_replaced = any(address.startswith("aws_vpc.") and change == "replaced" for address, (change, _) in status.items())
    found = [_resource_change(platform, env, address, change, arguments, before["resource"].get(address),
                              after["resource"].get(address), vpc_replaced)
             for address, (change, arguments) in status.items() if change != "unchanged"]
    for name in sorted({*before["output"], *after["output"]}):
        change = _status(before["output"].get(name), after["output"].get(name))
        if change != "unchanged":
            found.append(Change(platform, "terraform", env, "output", name, change))
    for block in ("terraform", "provider"):
        if before[block] != after[block]:
            found.append(Change(platform, "terraform", env, "settings", block, "changed"))
    return found


def _module(files: Mapping[str, bytes]) -> dict[str, dict[str, Any]]:
    """The blocks of one environment's *.tf.json files, merged: resources and data sources by address."""
    module: dict[str, dict[str, Any]] = {key: {} for key in ("resource", "data", "locals", "variable", "output",
                                                              "terraform", "provider")}
    for path, content in sorted(files.items()):
        if not path.endswith(".tf.json"):
            continue
        document = json.loads(content)
        for key in ("resource", "data"):
            for kind, named in document.get(key, {}).items():
                for name, body in named.items():
                    module[key][f"{kind}.{name}"] = body
        for key in ("locals", "variable", "output", "terraform", "provider"):
            module[key].update(document.get(key, {}))
    return module


def _status(old: Any, new: Any) -> str:
    return "added" if old is None else "removed" if new is None else "unchanged" if old == new else "changed"


def _values(before: Mapping[str, dict[str, Any]], after: Mapping[str, dict[str, Any]]) -> dict[str, tuple[Any, Any]]:
    """Locals, variables and data sources, as references name them: old and new value."""
    found = {}
    for key, prefix in (("locals", "local."), ("variable", "var."), ("data", "data.")):
        for name in {*before[key], *after[key]}:
            found[prefix + name] = (before[key].get(name), after[key].get(name))
    return found


_REFERENCE = re.compile(r"(?<![\w.])((?:data\.)?[a-z][a-z0-9]*_[a-z0-9_]+\.[\w-]+|local\.[\w-]+|var\.[\w-]+)"
                        r"(?:\[[^\]]*\])?(?:\.(\w+))?")


@dataclass(frozen=True)
class _Reads:
    """Whether a value reads something that changed: a changed local, variable or data source; an argument a
    resource changes in place; any attribute of a resource created or replaced, except an argument its
    configuration sets to the same plain value (Terraform knows that one before apply)."""

    before: Mapping[str, Any]
    after: Mapping[str, Any]
    status: Mapping[str, tuple[str, list[str]]]
    values: set[str]

    def changed(self, value: Any) -> bool:
        return any(self._moved(reference, attribute) for reference, attribute in _references(value))

    def _moved(self, reference: str, attribute: str | None) -> bool:
        if reference in self.values:
            return True
        change, arguments = self.status.get(reference, ("unchanged", []))
        if change == "changed":
            return attribute in arguments
        if change in ("added", "replaced"):
            return attribute is None or not _plain_and_equal(self.before.get(reference), self.after.get(reference),
                                                             attribute)
        return False


def _plain_and_equal(old: Any, new: Any, attribute: str) -> bool:
    value = _value(new or {}, attribute)
    return value is not None and value == _value(old or {}, attribute) and not any("${" in text for text in
                                                                                   _strings(value))


def _references(value: Any) -> set[tuple[str, str | None]]:
    """Each reference in a value's interpolations, with the attribute it reads."""
    found: set[tuple[str, str | None]] = set()
    for text in _strings(value):
        if "${" in text:
            found.update((match[1], match[2]) for match in _REFERENCE.finditer(text))
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _resource_status(old: Any, new: Any, address: str, reads: _Reads) -> tuple[str, list[str]]:
    if old is None or new is None:
        return _status(old, new), []
    kind = address.split(".", 1)[0]
    arguments = [name for name in _arguments(old, new, FORCE_NEW.get(kind, frozenset()))
                 if _value(old, name) != _value(new, name) or reads.changed(_value(new, name))]
    if not arguments:
        return "unchanged", []
    replaced = any(name in FORCE_NEW.get(kind, frozenset()) for name in arguments)
    return "replaced" if replaced else "changed", arguments


def _arguments(old: Mapping[str, Any], new: Mapping[str, Any], force_new: frozenset[str]) -> list[str]:
    """The top-level arguments, and the nested ones the replacement table names (`vpc_config.subnet_ids`)."""
    nested = {name for name in force_new if "." in name}
    blocks = {name.split(".", 1)[0] for name in nested}
    return sorted({*old, *new} - blocks - {"//"} | nested)


def _value(body: Mapping[str, Any], name: str) -> Any:
    value: Any = body
    for part in name.split("."):
        if isinstance(value, list) and len(value) == 1:
            value = value[0]  # a nested block written as a list of one
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _resource_change(platform: str, env: str, address: str, change: str, arguments: list[str], old: Any,
                     new: Any, vpc_replaced: bool) -> Change:
    kind = address.split(".", 1)[0]
    loses = kind in HOLDS_DATA and change in ("replaced", "removed")
    if change == "replaced":
        forcing = [name for name in arguments if name in FORCE_NEW[kind]]
        why = f"{_names(forcing)} {'forces' if len(forcing) == 1 else 'force'} a new resource"
        if loses:
            why += f"; the old one is destroyed{_protection(kind, old)}"
    elif change == "removed":
        why = f"destroyed{_protection(kind, old)}" if loses else ""
    elif change == "changed":
        why = "in place: " + _names(arguments)
        if kind in ONE_WAY_VERSIONS and _major(_value(old, "engine_version")) != _major(_value(new, "engine_version")):
            why = (f"in place, cannot be undone: engine_version {_value(old, 'engine_version')} -> "
                   f"{_value(new, 'engine_version')} is a major upgrade{_major_upgrade_note(kind, new)}; "
                   f"also {_names([name for name in arguments if name != 'engine_version'])}").removesuffix("; also ")
    else:
        why = ""
    if change == "changed" and kind in IN_THE_VPC and vpc_replaced:
        why += ("; its VPC is replaced and it cannot follow in place (its subnet group cannot move to another VPC):"
                " expect the apply to fail; move the data first (snapshot, restore into the new VPC)")
    return Change(platform, "terraform", env, kind, address, change, loses, why)


def _names(arguments: list[str]) -> str:
    shown = ", ".join(arguments[:SHOWN_PATHS])
    return shown + (f" and {len(arguments) - SHOWN_PATHS} more" if len(arguments) > SHOWN_PATHS else "")


def _protection(kind: str, old: Any) -> str:
    """What stands between the plan and the loss, as the old resource declares it."""
    notes = []
    if _value(old, "deletion_protection") is True:
        notes.append("deletion_protection refuses it until turned off")
    if kind in ("aws_db_instance", "aws_rds_cluster") and _value(old, "skip_final_snapshot") is False:
        notes.append("a final snapshot is taken")
    if kind == "aws_s3_bucket" and not _value(old, "force_destroy"):
        notes.append("AWS refuses while the bucket holds objects (force_destroy is off)")
    return f" ({'; '.join(notes)})" if notes else ""


def _major(version: Any) -> str:
    """A version's major part: 15 of 15.4, 8.0 of 8.0.35 (MySQL and old PostgreSQL count two parts)."""
    parts = str(version or "").split(".")
    return parts[0] if parts[0].isdigit() and int(parts[0]) >= 10 else ".".join(parts[:2])


def _major_upgrade_note(kind: str, new: Any) -> str:
    if kind == "aws_elasticache_replication_group" or _value(new, "allow_major_version_upgrade") is True:
        return ""
    return " (AWS refuses it unless allow_major_version_upgrade is set, which the resource does not)"


# Kubernetes, monitoring, workflows: objects by identity, with the paths that changed


def _kubernetes(platform: str, env: str, old: Mapping[str, bytes], new: Mapping[str, bytes]) -> list[Change]:
    def objects(files: Mapping[str, bytes]) -> dict[tuple[str, str], Any]:
        found = {}
        for path, content in files.items():
            for doc in _parse(path, content):
                if isinstance(doc, dict) and "kind" in doc:
                    meta = doc.get("metadata") or {}
                    name = f"{meta['namespace']}/{meta.get('name', '')}" if meta.get("namespace") else \
                        meta.get("name", path.rsplit("/", 1)[-1])
                    found[(str(doc["kind"]), str(name))] = doc
        return found

    def loses(kind: str, change: str) -> bool:
        return kind in K8S_HOLDS_DATA and change == "removed"

    others = {path: content for path, content in {**old, **new}.items() if not path.endswith((".yaml", ".yml"))}
    return _objects(platform, "kubernetes", env, objects(old), objects(new), loses) + _files(
        platform, "kubernetes", env, {p: old[p] for p in others if p in old}, {p: new[p] for p in others if p in new})


def _monitoring(platform: str, env: str, old: Mapping[str, bytes], new: Mapping[str, bytes]) -> list[Change]:
    def rules(files: Mapping[str, bytes]) -> dict[tuple[str, str], Any]:
        found: dict[tuple[str, str], Any] = {}
        for path, content in files.items():
            if path.rsplit("/", 1)[-1] != "rules.yml":
                continue
            for doc in _parse(path, content):
                for group in doc.get("groups", []):
                    for rule in group.get("rules", []):
                        kind = "alert" if "alert" in rule else "record"
                        service = (rule.get("labels") or {}).get("service")  # one alert per service
                        name, count = str(rule.get(kind)) + (f"{{service={service}}}" if service else ""), 1
                        while (kind, name if count == 1 else f"{name} ({count})") in found:
                            count += 1  # one alert name at several severities
                        found[(kind, name if count == 1 else f"{name} ({count})")] = rule
        return found

    rule_files = {path for path in {*old, *new} if path.endswith("/rules.yml")}
    return _objects(platform, "monitoring", env, rules(old), rules(new), lambda kind, change: False) + _files(
        platform, "monitoring", env, {p: c for p, c in old.items() if p not in rule_files},
        {p: c for p, c in new.items() if p not in rule_files})


def _github(platform: str, env: str, old: Mapping[str, bytes], new: Mapping[str, bytes]) -> list[Change]:
    def jobs(files: Mapping[str, bytes]) -> dict[tuple[str, str], Any]:
        found: dict[tuple[str, str], Any] = {}
        for path, content in files.items():
            for doc in _parse(path, content):
                workflow = path.rsplit("/", 1)[-1]
                found[("workflow", workflow)] = {key: value for key, value in doc.items() if key != "jobs"}
                for job, body in (doc.get("jobs") or {}).items():
                    found[("job", f"{workflow}: {job}")] = body
        return found

    return _objects(platform, "github", env, jobs(old), jobs(new), lambda kind, change: False)


def _objects(platform: str, target: str, env: str, old: Mapping[tuple[str, str], Any],
             new: Mapping[tuple[str, str], Any], loses: Callable[[str, str], bool]) -> list[Change]:
    found = []
    for key in sorted({*old, *new}):
        change = _status(old.get(key), new.get(key))
        if change == "unchanged":
            continue
        why = "in place: " + _names(_paths(old[key], new[key])) if change == "changed" else ""
        found.append(Change(platform, target, env, key[0], key[1], change, loses(key[0], change), why))
    return found


def _paths(old: Any, new: Any, prefix: str = "", depth: int = 2) -> list[str]:
    """The paths, `depth` keys deep, where two documents differ: spec.replicas, spec.template."""
    if depth == 0 or not (isinstance(old, dict) and isinstance(new, dict)):
        return [prefix] if old != new else []
    paths = []
    for key in sorted({*old, *new}, key=str):
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in old or key not in new:
            paths.append(path)
        else:
            paths += _paths(old[key], new[key], path, depth - 1)
    return paths


def _files(platform: str, target: str, env: str, old: Mapping[str, bytes], new: Mapping[str, bytes]) -> list[Change]:
    found = []
    for path in sorted({*old, *new}):
        change = _status(old.get(path), new.get(path))
        if change != "unchanged":
            found.append(Change(platform, target, env, "file", path.split("/", 1)[1], change))
    return found


_COMPARE = {"terraform": _terraform, "kubernetes": _kubernetes, "monitoring": _monitoring, "github": _github}


# Reports


def summary(found: list[Change]) -> str:
    if not found:
        return "no changes"
    counts = [f"{sum(c.change == change for c in found)} {change}" for change in ORDER
              if any(c.change == change for c in found)]
    lost = sum(c.data_loss for c in found)
    return f"{len(found)} change{'s' if len(found) != 1 else ''}: {', '.join(counts)}" + (
        f"; {lost} lose{'s' if lost == 1 else ''} data" if lost else "")


def _where(change: Change) -> str:
    return f"{change.platform}/{change.environment}" if change.environment else f"{change.platform} (all environments)"


def text(found: list[Change]) -> str:
    """For a terminal: one block per environment, one line per object."""
    lines: list[str] = []
    where = None
    width = min(max((len(c.object) + len(c.kind) for c in found), default=0) + 1, 56)
    for change in found:
        if _where(change) != where:
            where = _where(change)
            lines += [""] if lines else []
            lines.append(where)
        mark = "DATA LOSS " if change.data_loss else ""
        what = change.object if change.object.startswith(change.kind + ".") else f"{change.kind} {change.object}"
        lines.append(f"  {change.change:<9}{change.target:<11}{what:<{width}}  {mark}{change.why}".rstrip())
    lines += ["", summary(found)] if found else [summary(found)]
    return "\n".join(lines) + "\n"


def markdown(found: list[Change], limit: int = 300) -> str:
    """For a pull-request comment: a table, the data-losing rows first and marked."""
    found = sorted(found, key=lambda change: not change.data_loss)
    lines = ["### bizinfra diff", "", f"**{summary(found)}**"]
    if found:
        lines += ["", "| | where | target | object | change | why |", "| --- | --- | --- | --- | --- | --- |"]
        for change in found[:limit]:
            mark = ":warning: data loss" if change.data_loss else ""
            lines.append(f"| {mark} | {_where(change)} | {change.target} | `{_cell(change.object)}` | "
                         f"{change.change} | {_cell(change.why)} |")
        if len(found) > limit:
            lines += ["", f"... and {len(found) - limit} more: run `python -m bizinfra diff` for all of them."]
    return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("`", "'").replace("\n", " ")
